// Ward admin console: one person in the People section. Their role and status, their devices
// (platform, status, last contact) and live sessions, with the admin's actions on them: end a
// session, approve a pending device, add a device (a one-time code for a new device of the
// same person), change the role and deactivate (both confirmed and with a passkey step-up),
// and, for a clinician, their caseload.

import { busy, say, withStepUp } from './actions.js';
import { ApiError } from './api.js';
import { showSection, state } from './state.js';
import { caseloadView } from './teams.js';
import { confirmDialog, el, field, fill, table, when } from './ui.js';

export const ROLES = [
  ['clinician', 'Clinician'],
  ['front_desk', 'Front desk'],
  ['admin', 'Admin'],
];
const roleName = (r) => (ROLES.find(([v]) => v === r) || [r, r])[1];

const PLATFORMS = { phone: 'Phone', browser: 'Browser (console)', cli: 'Command line' };
const platformName = (p) => PLATFORMS[p] || p || 'Phone';

/** Re-throws `last_admin` with what to do about it; other errors unchanged. */
function explained(e) {
  if (e instanceof ApiError && e.code === 'last_admin' && !/admin first/i.test(e.message)) {
    return new ApiError(e.status, e.code, `${e.message}. Make another person an admin first`);
  }
  return e;
}

/** A short, readable time of last contact ("3 min ago", else the date). */
export function lastContact(ms) {
  if (!ms) return 'never';
  const ago = Date.now() - Number(ms);
  if (ago < 0) return when(ms);
  if (ago < 60_000) return 'just now';
  if (ago < 3_600_000) return `${Math.round(ago / 60_000)} min ago`;
  if (ago < 86_400_000) return `${Math.round(ago / 3_600_000)} h ago (${when(ms)})`;
  return when(ms);
}

function devicesTable(p) {
  const mine = (d) => d.device_id === state.device.deviceId;
  const action = (d) => {
    if (mine(d)) return el('span', { class: 'muted' }, 'this browser');
    if (d.status !== 'pending') return '—';
    const label = `Approve ${d.name} (${p.display_name})`;
    const b = el('button', { type: 'button', 'aria-label': label }, 'Approve');
    b.addEventListener(
      'click',
      busy(b, async () => {
        await withStepUp(() => state.api.post(`/devices/${d.device_id}/approve`));
        say(`Approved ${d.name} (${p.display_name}).`);
        await showSection('staff');
      }),
    );
    return b;
  };
  return table(
    `Devices of ${p.display_name}`,
    [
      { label: 'Device', value: (d) => d.name },
      { label: 'Platform', value: (d) => platformName(d.platform) },
      { label: 'Status', value: (d) => el('span', { class: `badge ${d.status}` }, d.status) },
      { label: 'Enrolled', value: (d) => when(d.enrolled_at_ms) },
      { label: 'Last contact', value: (d) => el('time', { datetime: d.last_seen_ms ? new Date(d.last_seen_ms).toISOString() : undefined }, lastContact(d.last_seen_ms)) },
      { label: 'Actions', value: action },
    ],
    p.devices || [],
    `${p.display_name} has no devices.`,
  );
}

function sessionsTable(p) {
  const devName = (id) => ((p.devices || []).find((d) => d.device_id === id) || { name: `device ${String(id).slice(0, 8)}` }).name;
  const action = (s) => {
    if (state.session && s.session_id === state.session.session_id) return el('span', { class: 'muted' }, 'this session (use Sign out)');
    const label = `End session on ${devName(s.device_id)} (${p.display_name}), started ${when(s.created_at_ms)}`;
    const b = el('button', { type: 'button', class: 'secondary', 'aria-label': label }, 'End session');
    b.addEventListener(
      'click',
      busy(b, async () => {
        await state.api.post(`/devices/${s.device_id}/sessions/${encodeURIComponent(s.session_id)}/end`);
        say(`Ended the session on ${devName(s.device_id)} (${p.display_name}); the device stays enrolled and can sign in again.`);
        await showSection('staff');
      }),
    );
    return b;
  };
  return table(
    `Live sessions of ${p.display_name}`,
    [
      { label: 'Device', value: (s) => `${devName(s.device_id)}${s.console ? ' (console)' : ''}` },
      { label: 'Signed in', value: (s) => when(s.created_at_ms) },
      { label: 'Last used', value: (s) => lastContact(s.last_used_ms) },
      { label: 'Ends at the latest', value: (s) => when(s.expires_at_ms) },
      { label: 'Actions', value: action },
    ],
    p.sessions || [],
    'No live sessions.',
  );
}

function addDevice(p, key) {
  const out = el('output', { id: `${key}-device-code`, 'aria-live': 'polite' });
  const b = el('button', { type: 'button', class: 'secondary', 'aria-label': `Add a device for ${p.display_name}` }, 'Add a device');
  b.addEventListener(
    'click',
    busy(b, async () => {
      const r = await state.api.post(`/users/${p.user_id}/device-invites`);
      fill(
        out,
        el('p', { class: 'code-box' },
          el('span', {}, `New-device code for ${p.display_name}: `),
          el('code', { class: 'code big' }, r.code),
        ),
        el('p', { class: 'hint' }, `Shown once. Valid until ${when(r.expires_at_ms)}. Enroll the new device with it (the Ward app, or this console's enroll screen); it stays pending until an admin approves it.`),
      );
      say(`New-device code created for ${p.display_name}.`);
    }),
  );
  return { button: b, out };
}

function changeRole(p, key) {
  const role = field(`New role for ${p.display_name}`, `${key}-role`, {
    tag: 'select',
    options: ROLES.filter(([v]) => v !== p.role),
  });
  const b = el('button', { type: 'button', 'aria-label': `Change role of ${p.display_name}` }, 'Change role');
  b.addEventListener(
    'click',
    busy(b, async () => {
      const next = role.input.value;
      const ok = await confirmDialog(
        `Make ${p.display_name} ${roleName(next).toLowerCase()}?`,
        `${p.display_name} is ${roleName(p.role).toLowerCase()} now. Their sessions end and they sign in again with the new role. You will confirm with your passkey.`,
        'Change role',
      );
      if (!ok) return;
      try {
        await withStepUp(() => state.api.post(`/users/${p.user_id}/role`, { role: next }));
      } catch (e) {
        throw explained(e);
      }
      say(`${p.display_name} is now ${roleName(next).toLowerCase()}; their sessions ended.`);
      await showSection('staff');
    }),
  );
  return el('div', { class: 'inline' }, role.wrap, b);
}

function deactivate(p, key) {
  const reason = field(`Reason for deactivating ${p.display_name}`, `${key}-reason`, {
    autocomplete: 'off',
    hint: 'Kept in the audit log, e.g. "left the clinic".',
  });
  const b = el('button', { type: 'button', class: 'danger', 'aria-label': `Deactivate ${p.display_name}` }, 'Deactivate');
  b.addEventListener(
    'click',
    busy(b, async () => {
      const why = reason.input.value.trim();
      if (!why) {
        reason.input.focus();
        throw new Error(`Type a reason for deactivating ${p.display_name}.`);
      }
      const ok = await confirmDialog(
        `Deactivate ${p.display_name}?`,
        'Every device of theirs is revoked and wiped, their sessions end, they leave every care team, and their passkeys never sign in again. You will confirm with your passkey.',
        'Deactivate',
      );
      if (!ok) return;
      let r;
      try {
        r = await withStepUp(() => state.api.post(`/users/${p.user_id}/deactivate`, { reason: why }));
      } catch (e) {
        throw explained(e);
      }
      say(`Deactivated ${p.display_name}: ${r.devices_revoked ?? 0} device(s) revoked and wiped, ${r.sessions_ended ?? 0} session(s) ended, left ${r.teams_left ?? 0} care team(s).`);
      await showSection('staff');
    }),
  );
  return el('div', { class: 'inline' }, reason.wrap, b);
}

function caseload(p, key) {
  const out = el('div', { id: `${key}-caseload` });
  const b = el('button', { type: 'button', class: 'secondary', 'aria-label': `Caseload of ${p.display_name}` }, 'Show caseload');
  b.addEventListener(
    'click',
    busy(b, async () => {
      fill(out, await caseloadView(p));
    }),
  );
  return { button: b, out };
}

/** One person's card. */
export function personCard(p) {
  const key = `person-${p.user_id}`;
  const active = !p.deactivated_at_ms;
  const status = active
    ? el('span', { class: 'badge active' }, 'active')
    : el('span', { class: 'badge revoked' }, `deactivated ${when(p.deactivated_at_ms)}`);
  const me = state.me && p.user_id === state.me.user_id;
  const card = el(
    'article',
    { class: `person${active ? '' : ' inactive'}`, 'aria-labelledby': `${key}-h` },
    el('h3', { id: `${key}-h` }, p.display_name, me ? el('span', { class: 'muted' }, ' (you)') : null),
    el('p', { class: 'meta' }, el('span', { class: 'badge' }, roleName(p.role)), ' ', status, ` · since ${when(p.created_at_ms)}`),
    devicesTable(p),
  );
  if (!active) return card;
  card.append(sessionsTable(p));
  const dev = addDevice(p, key);
  const load = p.role === 'clinician' ? caseload(p, key) : null;
  card.append(
    ...[
      el('div', { class: 'actions' }, dev.button, load ? load.button : null),
      dev.out,
      load ? load.out : null,
      el('div', { class: 'person-admin' }, changeRole(p, key), deactivate(p, key)),
    ].filter(Boolean),
  );
  return card;
}
