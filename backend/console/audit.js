// Ward admin console: the Audit log section. Filter the clinic's audit events by device,
// person, client, action and time; show them in the page (people, devices and clients by
// name where known: client names decrypted in this browser) or download them as CSV.

import { query } from './api.js';
import { busy, say, withStepUp } from './actions.js';
import { clientName, deviceName, loadClientNames, loadPeople, userName } from './names.js';
import { state } from './state.js';
import { download, el, field, fill, table, when } from './ui.js';

export const id = 'audit';
export const title = 'Audit log';

/** An audit target by name: a device, a person or a client when known, else as recorded. */
function targetName(t) {
  if (!t) return '—';
  if (state.devices.some((d) => d.device_id === t)) return deviceName(t);
  if (state.users.has(t)) return userName(t);
  if (state.clients.has(t)) return clientName(t);
  return t;
}

/** The audit view's entries (`{cursor, at_ms, actor, device_id, action, target, client, count, source, chain}`). */
function auditTable(events) {
  return table(
    'Audit events',
    [
      { label: 'When', value: (e) => when(e.at_ms) },
      { label: 'Person', value: (e) => (state.users.has(e.actor) ? userName(e.actor) : e.actor || '—') },
      { label: 'Device', value: (e) => (e.device_id ? deviceName(e.device_id) : '—') },
      { label: 'Action', value: (e) => e.action },
      { label: 'Target', value: (e) => targetName(e.target) },
      { label: 'Client', value: (e) => (e.client ? clientName(e.client) : '—') },
      { label: 'Count', value: (e) => (e.count ?? '—') },
      { label: 'Source', value: (e) => e.source || 'server' },
      { label: 'Chain', value: (e) => (e.chain ? `#${e.chain.seq}${e.chain.flag ? ` ${JSON.stringify(e.chain.flag)}` : ''}` : '—') },
    ],
    events,
    'No audit events match.',
  );
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const device = field('Device', 'audit-device', {
    tag: 'select',
    options: [['', 'Any device'], ...state.devices.map((d) => [d.device_id, `${d.name} (${userName(d.user_id)})`])],
  });
  const actor = field('Person', 'audit-actor', {
    tag: 'select',
    options: [['', 'Anyone'], ...[...state.users.values()].map((u) => [u.user_id, u.display_name])],
  });
  const client = field('Client', 'audit-client', {
    tag: 'select',
    options: [['', 'Any client'], ...[...state.clients].map(([id, n]) => [id, n])],
    hint: state.clients.size ? undefined : 'Use “Decrypt client names” to filter by client.',
  });
  const action = field('Action', 'audit-action', { placeholder: 'e.g. device.revoke', autocomplete: 'off' });
  const since = field('From', 'audit-since', { type: 'datetime-local' });
  const until = field('Until', 'audit-until', { type: 'datetime-local' });
  const limit = field('At most', 'audit-limit', { type: 'number', min: 1, max: 10000, value: 200 });
  const show = el('button', { type: 'submit' }, 'Show events');
  const csv = el('button', { type: 'button', class: 'secondary' }, 'Download CSV');
  const results = el('div', { id: 'audit-results' });
  const params = (format) => {
    const ms = (v) => (v ? new Date(v).getTime() : '');
    return query({
      device: device.input.value,
      actor: actor.input.value,
      client: client.input.value,
      action: action.input.value.trim(),
      since: ms(since.input.value),
      until: ms(until.input.value),
      limit: limit.input.value,
      format,
    });
  };
  const form = el(
    'form',
    { class: 'filters', 'aria-label': 'Audit log filters' },
    device.wrap,
    actor.wrap,
    client.wrap,
    action.wrap,
    since.wrap,
    until.wrap,
    limit.wrap,
    el('div', { class: 'actions' }, show, csv),
  );
  form.addEventListener(
    'submit',
    busy(show, async () => {
      const r = await state.api.get(`/audit${params('json')}`);
      const events = Array.isArray(r) ? r : r.entries || [];
      if (events.some((e) => e.client) && state.clients.size === 0) await loadClientNames();
      fill(results, auditTable(events, r.next));
      say(`${events.length} audit event(s)${r.next ? '; more are older (narrow the filters or raise the limit)' : ''}.`);
    }),
  );
  csv.addEventListener(
    'click',
    busy(csv, async () => {
      const text = await withStepUp(() => state.api.get(`/audit${params('csv')}`, { raw: true }));
      download('ward-audit.csv', text, 'text/csv');
      say('Audit log downloaded as CSV.');
    }),
  );
  fill(body, form, results);
}
