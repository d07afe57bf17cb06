// Ward admin console: the Staff and invites section. The clinic's staff with role and device
// count, and a one-time invite code for a new staff member (shown once).

import { busy, say, withStepUp } from './actions.js';
import { loadPeople } from './names.js';
import { state } from './state.js';
import { el, field, fill, table, when } from './ui.js';

export const id = 'staff';
export const title = 'Staff and invites';

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const name = field('Name', 'invite-name', { required: true, autocomplete: 'off' });
  const role = field('Role', 'invite-role', {
    tag: 'select',
    options: [
      ['clinician', 'Clinician'],
      ['front_desk', 'Front desk'],
      ['admin', 'Admin'],
    ],
  });
  const out = el('output', { id: 'invite-code', for: 'invite-name', 'aria-live': 'polite' });
  const submit = el('button', { type: 'submit' }, 'Create invite');
  const form = el('form', { 'aria-labelledby': 'invite-h' }, name.wrap, role.wrap, submit);
  form.addEventListener(
    'submit',
    busy(submit, async () => {
      const who = name.input.value.trim();
      const call = () => state.api.post('/invites', { role: role.input.value, display_name: who });
      // Making another admin is confirmed with the passkey.
      const r = await (role.input.value === 'admin' ? withStepUp(call) : call());
      fill(
        out,
        el('span', {}, `Invite code for ${who} (shown once, valid until ${when(r.expires_at_ms)}): `),
        el('code', { class: 'code' }, r.code),
      );
      say(`Invite created for ${who}.`);
      form.reset();
    }),
  );
  fill(
    body,
    table(
      'Staff',
      [
        { label: 'Name', value: (u) => u.display_name },
        { label: 'Role', value: (u) => u.role },
        { label: 'Since', value: (u) => when(u.created_at_ms) },
        { label: 'Devices', value: (u) => String(state.devices.filter((d) => d.user_id === u.user_id).length) },
      ],
      [...state.users.values()],
      'No staff yet.',
    ),
    el('h3', { id: 'invite-h' }, 'Invite a staff member'),
    form,
    out,
  );
}
