// Ward admin console: the Devices section. Every device with its person, status, last contact,
// last unlock and wipe state; approve a pending device, revoke and wipe one (confirmation and
// passkey step-up), open its breach-scope report, or lock the whole clinic down.

import { busy, say, withStepUp } from './actions.js';
import { loadPeople, userName } from './names.js';
import { showSection, state } from './state.js';
import { confirmDialog, el, fill, table, when } from './ui.js';

export const id = 'devices';
export const title = 'Devices';

/** The Wipe column: queued (and whether a rescue comes first), or the device-signed receipt. */
function wipeText(d) {
  const w = d.wipe;
  if (!w) return '—';
  if (w.receipt) {
    return `Wiped ${when(w.receipt.wiped_at_ms)}; ${w.receipt.rescued_versions} unsynced version(s) rescued to quarantine`;
  }
  return `Wipe queued ${when(w.issued_at_ms)}${w.rescue ? ' (rescue first)' : ''}; waiting for the device`;
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const rows = state.devices;
  const actions = (d) => {
    const cell = el('div', { class: 'actions' });
    const label = `${d.name} (${userName(d.user_id)})`;
    if (d.device_id === state.device.deviceId) {
      cell.append(el('span', { class: 'muted' }, 'this browser'));
      return cell;
    }
    if (d.status === 'pending') {
      const b = el('button', { type: 'button', 'aria-label': `Approve ${label}` }, 'Approve');
      b.addEventListener(
        'click',
        busy(b, async () => {
          await withStepUp(() => state.api.post(`/devices/${d.device_id}/approve`));
          say(`Approved ${label}.`);
          await showSection(id);
        }),
      );
      cell.append(b);
    }
    if (d.status === 'pending' || d.status === 'active') {
      const b = el('button', { type: 'button', class: 'danger', 'aria-label': `Revoke and wipe ${label}` }, 'Revoke and wipe');
      b.addEventListener(
        'click',
        busy(b, async () => {
          const ok = await confirmDialog(
            `Revoke and wipe ${label}?`,
            'Its sessions end now, the clinic key rotates, and the device wipes itself at its next contact (after rescuing unsynced work to quarantine when the policy says so). You will confirm with your passkey.',
            'Revoke and wipe',
          );
          if (!ok) return;
          const r = await withStepUp(() => state.api.post(`/devices/${d.device_id}/revoke`));
          const extra = r && r.epoch !== undefined ? `; clinic key now at epoch ${r.epoch}` : '';
          say(`Revoked ${label}: ${r.sessions_revoked ?? 0} session(s) ended${extra}; wipe queued.`);
          await showSection(id);
        }),
      );
      cell.append(b);
    }
    const report = el('button', { type: 'button', class: 'secondary', 'aria-label': `Breach scope of ${label}` }, 'Breach scope');
    report.addEventListener('click', () => {
      state.breachDevice = d.device_id;
      showSection('breach');
    });
    cell.append(report);
    return cell;
  };
  const lockdown = el('button', { type: 'button', class: 'danger' }, 'Lockdown: revoke every other device');
  lockdown.addEventListener(
    'click',
    busy(lockdown, async () => {
      const ok = await confirmDialog(
        'Lock the clinic down?',
        'Every device except this browser is revoked and wiped at its next contact, and the clinic key rotates. You will confirm with your passkey.',
        'Lock down',
      );
      if (!ok) return;
      const r = await withStepUp(() => state.api.post('/lockdown'));
      say(`Lockdown: ${r.devices_revoked} device(s) revoked; clinic key now at epoch ${r.epoch}.`);
      await showSection(id);
    }),
  );
  fill(
    body,
    table(
      'Devices of this clinic',
      [
        { label: 'Device', value: (d) => d.name },
        { label: 'Person', value: (d) => userName(d.user_id) },
        { label: 'Status', value: (d) => el('span', { class: `badge ${d.status}` }, d.status) },
        { label: 'Enrolled', value: (d) => when(d.enrolled_at_ms) },
        { label: 'Last contact', value: (d) => when(d.last_seen_ms) },
        { label: 'Last unlock', value: (d) => when(d.last_unlock_ms) },
        { label: 'Wipe', value: wipeText },
        { label: 'Actions', value: actions },
      ],
      rows,
      'No devices yet.',
    ),
    el('h3', {}, 'Emergency'),
    el('p', {}, 'A lost laptop or a breach: revoke everything at once.'),
    lockdown,
  );
}
