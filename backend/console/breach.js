// Ward admin console: the Breach scope section. Per device: which clients' records and photos
// were on it, last sync, last unlock and wipe status, with client names decrypted in this
// browser (the server sends only ids); also as CSV.

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
  const results = el('div', { id: 'breach-results' });
  const form = el('form', { class: 'filters', 'aria-label': 'Breach-scope report' }, device.wrap, el('div', { class: 'actions' }, open, csv));
  form.addEventListener(
    'submit',
    busy(open, async () => {
      const id = device.input.value;
      state.breachDevice = id;
      const [r] = await Promise.all([
        state.api.get(`/devices/${id}/breach-scope${query({ format: 'json' })}`),
        loadClientNames(),
      ]);
      fill(
        results,
        el('h3', { id: 'breach-h' }, `Breach scope of ${deviceName(id)}`),
        el('p', { class: 'muted' }, 'Client names are decrypted in this browser; the server sent only ids.'),
        renderReport(r, 'Report'),
      );
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
