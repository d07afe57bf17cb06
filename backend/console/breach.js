// Ward admin console: the Breach scope section. Per device, the answer first (which patients'
// data was on it, whether it was encrypted and who held the key, when it was last in contact,
// when and how it was wiped, what was rescued), then the detail: per client records and
// photos delivered and created, last unlock, the device's audit chain. Client names are
// decrypted in this browser (the server sends only ids). Printable, and as CSV.

import { query } from './api.js';
import { busy, say, withStepUp } from './actions.js';
import { clientName, deviceName, loadClientNames, loadPeople, userName } from './names.js';
import { state } from './state.js';
import { download, el, field, fill, table, when } from './ui.js';

export const id = 'breach';
export const title = 'Breach scope';

/** Renders any JSON report: scalars as a list, arrays of objects as tables; client ids named. */
function renderReport(value, caption) {
  if (Array.isArray(value)) {
    if (value.length === 0) return el('p', { class: 'empty' }, `${caption}: none.`);
    if (typeof value[0] !== 'object' || value[0] === null) {
      return el('p', {}, `${caption}: ${value.map((v) => (isClientKey(caption) ? clientName(v) : v)).join(', ')}`);
    }
    const keys = [...new Set(value.flatMap((v) => Object.keys(v)))];
    const cols = [];
    if (keys.includes('client_id')) cols.push({ label: 'client', value: (r) => clientName(r.client_id) });
    for (const k of keys) cols.push({ label: label(k), value: (r) => cell(k, r[k]) });
    return table(caption, cols, value);
  }
  if (value && typeof value === 'object') {
    const scalars = [];
    const nested = [];
    for (const [k, v] of Object.entries(value)) {
      if (v && typeof v === 'object') nested.push([k, v]);
      else scalars.push([k, v]);
    }
    return el(
      'div',
      { class: 'report' },
      scalars.length
        ? el('dl', {}, scalars.flatMap(([k, v]) => [el('dt', {}, label(k)), el('dd', {}, cell(k, v))]))
        : null,
      nested.map(([k, v]) => el('div', {}, el('h4', {}, label(k)), renderReport(v, label(k)))),
    );
  }
  return el('p', {}, String(value));
}

/** A field name for people: `last_contact_ms` -> "last contact". */
function label(k) {
  return k.replace(/_ms$/, '').replace(/_/g, ' ');
}

function isClientKey(k) {
  return /client/.test(k);
}

function cell(key, v) {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'object') return JSON.stringify(v);
  if (/_ms$/.test(key) && typeof v === 'number') return when(v);
  if (key === 'device_id' || key === 'device') return `${deviceName(v)} (${String(v).slice(0, 8)})`;
  if (key === 'actor' || key === 'user_id') return state.users.has(v) ? userName(v) : String(v);
  if (key === 'client_id') return String(v).slice(0, 8);
  return String(v);
}

/** The enrolled device of any person, from GET /users (for its platform). */
function personDevice(id) {
  for (const p of state.users.values()) {
    const d = (p.devices || []).find((x) => x.device_id === id);
    if (d) return d;
  }
  return null;
}

/** Whether the data was encrypted, and who held the key, for the device's platform. */
function custody(r) {
  if (r.encryption || r.key_custody) return [r.encryption, r.key_custody].filter(Boolean).map(String).join('; ');
  const platform = (r.device && r.device.platform) || (personDevice(r.device && r.device.device_id) || {}).platform || 'phone';
  if (platform === 'browser') {
    return 'A console browser keeps no patient records: client names are decrypted in page memory only and gone with the tab; its signing key is non-extractable.';
  }
  if (platform === 'cli') {
    return 'Yes, an encrypted vault (AES-256-GCM), but its key is in a software key store file on that computer: not hardware-protected.';
  }
  return "Yes: the Ward vault is encrypted at rest (AES-256-GCM); its key is wrapped by the phone's hardware key store (Android Keystore / StrongBox or the iOS Secure Enclave) and opens only after the user's biometric unlock.";
}

function wipeAnswer(w) {
  if (!w) return ['No wipe issued.', '—'];
  const rc = w.receipt;
  if (!rc) {
    return [
      `Not yet: remote wipe queued ${when(w.issued_at_ms)}${w.rescue ? ' (unsynced work rescued first)' : ''}; it runs at the device's next contact.`,
      w.rescue ? 'Nothing yet: rescue runs before the wipe.' : 'Nothing: the policy did not ask for a rescue.',
    ];
  }
  const how = `Remote wipe command issued ${when(w.issued_at_ms)}; the device destroyed its vault key first (crypto-shred), then its data, and sent a signed receipt (received ${when(rc.received_at_ms)}).`;
  const photos = rc.unrescued_photos ? `; ${rc.unrescued_photos} photo(s) could not be rescued` : '';
  return [
    `Wiped ${when(rc.wiped_at_ms)}. ${how}`,
    `${rc.rescued_versions ?? 0} unsynced version(s) uploaded to quarantine before the wipe${photos}.`,
  ];
}

/** The answer, before the detail. */
function answer(r) {
  const ids = (r.clients || []).map((c) => c.client_id).filter(Boolean);
  const patients = ids.length
    ? `${ids.length} patient(s): ${ids.map((c) => clientName(c)).join(', ')}`
    : 'None: no patient data reached this device.';
  const [wiped, rescued] = wipeAnswer(r.wipe);
  const d = r.device || {};
  const rows = [
    ['Patients whose data was on it', patients],
    ['Encrypted, and who held the key', custody(r)],
    ['Last in contact', `${when(d.last_contact_ms)}${d.last_unlock_ms ? `; last unlocked ${when(d.last_unlock_ms)}` : ''}`],
    ['Wiped', wiped],
    ['Rescued', rescued],
  ];
  if (r.complete === false) rows.push(['Completeness', 'Partial: the device has more history than one report reads; narrow by time in the audit log.']);
  return el(
    'section',
    { class: 'answer', 'aria-labelledby': 'breach-answer-h' },
    el('h4', { id: 'breach-answer-h' }, 'In short'),
    el('dl', {}, rows.flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
  );
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const device = field('Device', 'breach-device', {
    tag: 'select',
    options: state.devices.map((d) => [d.device_id, `${d.name} (${userName(d.user_id)}, ${d.status})`]),
  });
  if (state.breachDevice) device.input.value = state.breachDevice;
  const open = el('button', { type: 'submit' }, 'Open report');
  const csv = el('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const print = el('button', { type: 'button', class: 'secondary', disabled: true }, 'Print');
  print.addEventListener('click', () => window.print());
  const results = el('div', { id: 'breach-results' });
  const form = el('form', { class: 'filters', 'aria-label': 'Breach-scope report' }, device.wrap, el('div', { class: 'actions' }, open, csv, print));
  form.addEventListener(
    'submit',
    busy(open, async () => {
      const id = device.input.value;
      state.breachDevice = id;
      const [r] = await Promise.all([
        state.api.get(`/devices/${id}/breach-scope${query({ format: 'json' })}`),
        loadClientNames(),
      ]);
      const owner = r.device && (r.device.user_name || userName(r.device.user_id));
      fill(
        results,
        el('h3', { id: 'breach-h', tabindex: '-1' }, `Breach scope of ${deviceName(id)}${owner ? ` (${owner})` : ''}`),
        el('p', { class: 'muted' }, `Generated ${when(r.generated_at_ms)}. Client names are decrypted in this browser; the server sent only ids.`),
        answer(r),
        el('h4', {}, 'Detail'),
        renderReport(r, 'Report'),
      );
      print.disabled = false;
      say(`Breach-scope report for ${deviceName(id)} opened.`);
      document.getElementById('breach-h').focus?.();
    }),
  );
  csv.addEventListener(
    'click',
    busy(csv, async () => {
      const id = device.input.value;
      const text = await withStepUp(() => state.api.get(`/devices/${id}/breach-scope${query({ format: 'csv' })}`, { raw: true }));
      download(`ward-breach-scope-${id}.csv`, text, 'text/csv');
      say('Breach-scope report downloaded as CSV.');
    }),
  );
  fill(body, state.devices.length ? form : el('p', { class: 'empty' }, 'No devices yet.'), results);
}
