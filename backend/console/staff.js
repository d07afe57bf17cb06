// Ward admin console: the People section. A one-time invite code for a new staff member
// (shown once), then every person of the clinic, oldest first: role, status (active or
// deactivated), devices and live sessions, and what an admin can do about each (person.js).

import { busy, say, withStepUp } from './actions.js';
import { loadPeople } from './names.js';
import { personCard, ROLES } from './person.js';
import { state } from './state.js';
import { el, field, fill, when } from './ui.js';

export const id = 'staff';
export const title = 'People';

function inviteForm() {
  const name = field('Name', 'invite-name', { required: true, autocomplete: 'off' });
  const role = field('Role', 'invite-role', { tag: 'select', options: ROLES });
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
  return [el('h3', { id: 'invite-h' }, 'Invite a staff member'), form, out];
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const people = [...state.users.values()];
  const active = people.filter((p) => !p.deactivated_at_ms);
  const gone = people.filter((p) => p.deactivated_at_ms);
  fill(
    body,
    inviteForm(),
    el('h3', { id: 'people-h' }, `Staff (${active.length} active${gone.length ? `, ${gone.length} deactivated` : ''})`),
    people.length
      ? el('div', { class: 'people', role: 'list', 'aria-labelledby': 'people-h' }, [...active, ...gone].map((p) => el('div', { role: 'listitem' }, personCard(p))))
      : el('p', { class: 'empty' }, 'No staff yet.'),
  );
}
