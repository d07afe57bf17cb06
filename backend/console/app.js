// Ward admin console: the page. This browser is enrolled like a phone (its own device id and
// non-extractable Ed25519 key, a passkey for its user); every API call is signed. Client names
// are decrypted here, with tenant keys sealed to a one-time X25519 key of this page; the
// server only ever sees ciphertext. Sections: devices, staff and invites, quarantine, audit
// log, breach-scope report, policies. Destructive actions (revoke and wipe, lockdown, policy
// changes) ask for a passkey step-up first.

import { Api, ApiError, query } from './api.js';
import { createPasskey, getAssertion, passkeyErrorMessage } from './passkey.js';
import { clearSession, forgetDevice, loadDevice, loadSession, saveDevice, saveSession } from './store.js';
import { KIND, newDeviceKey, newSealRequestKey, openRecord, openTenantKeys } from './wcrypto.js';
import { announce, confirmDialog, download, el, field, fill, table, when } from './ui.js';

const state = {
  device: null,
  session: null,
  me: null,
  api: null,
  keys: null, // Map epoch -> CryptoKey (memory only)
  clients: new Map(), // client id -> display name (memory only)
  users: new Map(),
  devices: [],
  section: 'devices',
};

const main = () => document.getElementById('main');

function clearMessages() {
  document.getElementById('status').textContent = '';
  document.getElementById('error').textContent = '';
}

function say(text) {
  document.getElementById('error').textContent = '';
  announce(text, 'ok');
}

/** Shows an error in the alert region, in the server's words when it has some. */
function fail(e) {
  document.getElementById('status').textContent = '';
  const pk = passkeyErrorMessage(e);
  let text;
  if (pk) text = pk;
  else if (e instanceof ApiError) text = `${e.message} (${e.code})`;
  else text = (e && e.message) || String(e);
  const live = document.getElementById('error');
  live.textContent = text;
  if (e instanceof ApiError && e.status === 401 && state.session) {
    clearSession();
    state.session = null;
    live.textContent = `${text}. Your session ended: sign in again.`;
    render();
  }
}

/** Runs `fn` for a button: disabled while busy, errors shown. */
function busy(button, fn) {
  return async (ev) => {
    if (ev) ev.preventDefault();
    clearMessages();
    if (button) button.disabled = true;
    try {
      await fn();
    } catch (e) {
      fail(e);
    } finally {
      if (button && button.isConnected) button.disabled = false;
    }
  };
}

function makeApi(tenant) {
  return new Api(tenant, () => ({ device: state.device, session: state.session }));
}

// ---------------------------------------------------------------- enrollment and sign-in

function enrollView() {
  const tenantFromUrl = new URLSearchParams(location.hash.slice(1)).get('tenant') || '';
  const tenant = field('Clinic id (tenant)', 'enroll-tenant', {
    required: true,
    value: tenantFromUrl,
    autocomplete: 'off',
    hint: 'Shown on the server\'s start page and in the terminal that started it.',
  });
  const code = field('Invite or setup code', 'enroll-code', {
    required: true,
    autocomplete: 'one-time-code',
    hint: 'The one-time setup code (first admin) or an invite code from another admin.',
  });
  const name = field('Your name', 'enroll-name', { required: true, autocomplete: 'name' });
  const devName = field('Name for this browser', 'enroll-device', {
    required: true,
    value: 'Admin console',
  });
  const submit = el('button', { type: 'submit' }, 'Create passkey and enroll this browser');
  const form = el(
    'form',
    { 'aria-labelledby': 'enroll-h' },
    tenant.wrap,
    code.wrap,
    name.wrap,
    devName.wrap,
    submit,
  );
  form.addEventListener(
    'submit',
    busy(submit, async () => {
      const t = tenant.input.value.trim();
      const api = makeApi(t);
      const started = await api.publicPost('/enroll/start', {
        invite_code: code.input.value.trim(),
        user_name: name.input.value.trim(),
      });
      const credential = await createPasskey(started.options);
      const key = await newDeviceKey();
      const deviceId = crypto.randomUUID();
      const grant = await api.publicPost('/enroll/finish', {
        ceremony_id: started.ceremony_id,
        credential,
        device: { device_id: deviceId, public_key: key.publicKey, name: devName.input.value.trim() },
        invite_code: code.input.value.trim(),
      });
      state.device = {
        tenant: t,
        deviceId: grant.device_id,
        userId: grant.user_id,
        name: devName.input.value.trim(),
        keyPair: key.pair,
      };
      await saveDevice(state.device);
      state.session = saveSession(grant);
      state.api = api;
      say(`This browser is enrolled (${grant.role}, device ${grant.device_status}).`);
      await afterSignIn();
    }),
  );
  return el(
    'section',
    { class: 'card' },
    el('h2', { id: 'enroll-h' }, 'Enroll this browser'),
    el(
      'p',
      {},
      'The console is a device of its own: it gets a passkey for you and a signing key that never leaves this browser.',
    ),
    form,
  );
}

function loginView() {
  const button = el('button', { type: 'button' }, 'Sign in with passkey');
  button.addEventListener(
    'click',
    busy(button, async () => {
      const api = makeApi(state.device.tenant);
      const started = await api.publicPost('/login/start', { user_id: state.device.userId });
      const credential = await getAssertion(started.options);
      const grant = await api.publicPost('/login/finish', {
        ceremony_id: started.ceremony_id,
        credential,
        device_id: state.device.deviceId,
      });
      state.session = saveSession(grant);
      say('Signed in.');
      await afterSignIn();
    }),
  );
  const forget = el('button', { type: 'button', class: 'secondary' }, 'Forget this browser');
  forget.addEventListener(
    'click',
    busy(forget, async () => {
      const ok = await confirmDialog(
        'Forget this browser?',
        'Its device key is deleted; to use the console here again you need a new invite.',
        'Forget this browser',
      );
      if (!ok) return;
      await forgetDevice();
      state.device = null;
      render();
    }),
  );
  return el(
    'section',
    { class: 'card' },
    el('h2', {}, 'Sign in'),
    el('p', {}, `This browser is enrolled as “${state.device.name}” for clinic ${state.device.tenant}.`),
    el('div', { class: 'actions' }, button, forget),
  );
}

async function afterSignIn() {
  state.api = makeApi(state.device.tenant);
  state.me = await state.api.get('/me');
  render();
}

async function stepUp() {
  const started = await state.api.post('/step-up/start');
  const credential = await getAssertion(started.options);
  await state.api.post('/step-up/finish', { ceremony_id: started.ceremony_id, credential });
}

/**
 * Runs a destructive call right after a fresh passkey assertion. The server would accept one
 * up to five minutes old (a login counts), but the console asks every time: the person
 * confirms this action, not an earlier one.
 */
async function withStepUp(fn) {
  announce('Confirm with your passkey…');
  await stepUp();
  try {
    return await fn();
  } catch (e) {
    if (e instanceof ApiError && e.code === 'step_up_required') {
      await stepUp();
      return fn();
    }
    throw e;
  }
}

// ---------------------------------------------------------------- client names (decrypted here)

async function fetchKeys() {
  const requestKey = await newSealRequestKey();
  const released = await state.api.post('/keys/release', { ephemeral_public: requestKey.publicKey });
  state.keys = await openTenantKeys(requestKey, released, state.device.tenant);
}

async function openWithKeys(expected, envelope) {
  if (!state.keys) await fetchKeys();
  try {
    return await openRecord(expected, state.keys, envelope);
  } catch (e) {
    if (/no tenant key for epoch/.test(e.message)) {
      await fetchKeys(); // a revocation rotated the key since
      return openRecord(expected, state.keys, envelope);
    }
    throw e;
  }
}

/** Pulls the feed and decrypts every client record's latest version, in this browser. */
async function loadClientNames() {
  const names = new Map();
  let after = 0;
  let failed = 0;
  for (let page = 0; page < 1000; page++) {
    const p = await state.api.get(`/objects/pull${query({ after, limit: 1000 })}`);
    for (const o of p.objects) {
      if (o.kind !== KIND.client || !o.envelope) continue;
      try {
        const rec = await openWithKeys(
          { tenant: state.device.tenant, object: o.object_id, version: o.version_id, kind: KIND.client },
          o.envelope,
        );
        names.set(o.object_id, rec.display_name);
      } catch {
        failed += 1;
      }
    }
    after = p.next_after;
    if (!p.has_more) break;
  }
  state.clients = names;
  return failed;
}

function clientName(id) {
  if (!id) return '—';
  const n = state.clients.get(id);
  return n ? `${n}` : `unknown client ${id.slice(0, 8)}`;
}

function userName(id) {
  const u = state.users.get(id);
  return u ? u.display_name : id ? `user ${String(id).slice(0, 8)}` : '—';
}

function deviceName(id) {
  const d = state.devices.find((x) => x.device_id === id);
  return d ? d.name : id ? `device ${String(id).slice(0, 8)}` : '—';
}

async function loadPeople() {
  const [users, devices] = await Promise.all([state.api.get('/users'), state.api.get('/devices')]);
  state.users = new Map(users.map((u) => [u.user_id, u]));
  state.devices = devices;
}

// ---------------------------------------------------------------- sections

const SECTIONS = [
  ['devices', 'Devices'],
  ['staff', 'Staff and invites'],
  ['quarantine', 'Quarantine'],
  ['audit', 'Audit log'],
  ['breach', 'Breach scope'],
  ['policy', 'Policies'],
];

function wipeText(d) {
  const w = d.wipe;
  if (!w) return '—';
  if (w.receipt) {
    return `Wiped ${when(w.receipt.wiped_at_ms)}; ${w.receipt.rescued_versions} unsynced version(s) rescued to quarantine`;
  }
  return `Wipe queued ${when(w.issued_at_ms)}${w.rescue ? ' (rescue first)' : ''}; waiting for the device`;
}

async function devicesSection(body) {
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
          await state.api.post(`/devices/${d.device_id}/approve`);
          say(`Approved ${label}.`);
          await showSection('devices');
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
          await showSection('devices');
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
      await showSection('devices');
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

async function staffSection(body) {
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
      const r = await state.api.post('/invites', { role: role.input.value, display_name: who });
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

function noteText(rec) {
  const b = rec && rec.body;
  if (!b) return '';
  if (b.type === 'text') return b.text;
  if (b.type === 'soap') return `S: ${b.subjective}\nO: ${b.objective}\nA: ${b.assessment}\nP: ${b.plan}`;
  return '';
}

async function quarantineSection(body) {
  await loadPeople();
  const items = await state.api.get('/quarantine');
  if (items.some((i) => i.client_id) && state.clients.size === 0) await loadClientNames();
  const kindName = Object.fromEntries(Object.entries(KIND).map(([k, v]) => [v, k.replace('_', ' ')]));
  const content = new Map();
  for (const i of items) {
    if (i.kind !== KIND.note && i.kind !== KIND.client) continue;
    try {
      const rec = await openWithKeys(
        { tenant: state.device.tenant, object: i.object_id, version: i.version_id, kind: i.kind },
        i.envelope,
      );
      content.set(i.version_id, i.kind === KIND.note ? noteText(rec) : rec.display_name);
    } catch (e) {
      content.set(i.version_id, `(cannot decrypt: ${e.message})`);
    }
  }
  const decide = (i, verb) => {
    const label = `${verb === 'accept' ? 'Accept' : 'Reject'} ${kindName[i.kind] || 'record'} for ${clientName(i.client_id)} from ${deviceName(i.device_id)}`;
    const b = el('button', { type: 'button', class: verb === 'reject' ? 'danger' : '', 'aria-label': label }, verb === 'accept' ? 'Accept' : 'Reject');
    b.addEventListener(
      'click',
      busy(b, async () => {
        await state.api.post(`/quarantine/${i.version_id}/${verb}`);
        say(`${verb === 'accept' ? 'Accepted' : 'Rejected'}: ${kindName[i.kind] || 'record'} for ${clientName(i.client_id)}.`);
        await showSection('quarantine');
      }),
    );
    return b;
  };
  fill(
    body,
    el(
      'p',
      {},
      'Records a revoked device had not synced, uploaded before its wipe. Accept to add them to the record, reject to discard them. Their content is decrypted in this browser.',
    ),
    table(
      'Quarantined records',
      [
        { label: 'Client', value: (i) => clientName(i.client_id) },
        { label: 'Kind', value: (i) => kindName[i.kind] || String(i.kind) },
        { label: 'Content', value: (i) => el('span', { class: 'content' }, content.get(i.version_id) ?? '(not shown)') },
        { label: 'From device', value: (i) => deviceName(i.device_id) },
        { label: 'Received', value: (i) => when(i.received_at_ms) },
        { label: 'Status', value: (i) => el('span', { class: `badge ${i.status}` }, i.status) },
        {
          label: 'Decision',
          value: (i) =>
            i.status === 'pending'
              ? el('div', { class: 'actions' }, decide(i, 'accept'), decide(i, 'reject'))
              : `${i.status} ${when(i.decided_at_ms)}`,
        },
      ],
      items,
      'Nothing in quarantine.',
    ),
  );
}

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

/** The audit view's entries (`{cursor, at_ms, actor, device_id, action, target, client, count, source, chain}`). */
function auditTable(events) {
  return table(
    'Audit events',
    [
      { label: 'When', value: (e) => when(e.at_ms) },
      { label: 'Person', value: (e) => (state.users.has(e.actor) ? userName(e.actor) : e.actor || '—') },
      { label: 'Device', value: (e) => (e.device_id ? deviceName(e.device_id) : '—') },
      { label: 'Action', value: (e) => e.action },
      { label: 'Target', value: (e) => (e.target ? (state.devices.some((d) => d.device_id === e.target) ? deviceName(e.target) : e.target) : '—') },
      { label: 'Client', value: (e) => (e.client ? clientName(e.client) : '—') },
      { label: 'Count', value: (e) => (e.count ?? '—') },
      { label: 'Source', value: (e) => e.source || 'server' },
      { label: 'Chain', value: (e) => (e.chain ? `#${e.chain.seq}${e.chain.flag ? ` ${JSON.stringify(e.chain.flag)}` : ''}` : '—') },
    ],
    events,
    'No audit events match.',
  );
}

async function auditSection(body) {
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
      const text = await state.api.get(`/audit${params('csv')}`, { raw: true });
      download('ward-audit.csv', text, 'text/csv');
      say('Audit log downloaded as CSV.');
    }),
  );
  fill(body, form, results);
}

async function breachSection(body) {
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
      const text = await state.api.get(`/devices/${id}/breach-scope${query({ format: 'csv' })}`, { raw: true });
      download(`ward-breach-scope-${id}.csv`, text, 'text/csv');
      say('Breach-scope report downloaded as CSV.');
    }),
  );
  fill(body, state.devices.length ? form : el('p', { class: 'empty' }, 'No devices yet.'), results);
}

async function policySection(body) {
  let p;
  try {
    p = await state.api.get('/policy');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    // A server without the policy endpoint: show what /me reports, or the original error.
    p = (await state.api.get('/me')).policy;
    if (!p) throw e;
  }
  const idle = field('Idle lock after (seconds)', 'policy-idle', {
    type: 'number', min: 30, max: 3600, required: true, value: p.idle_lock_seconds,
    hint: 'The app locks after this much inactivity (30–3600).',
  });
  const lease = field('Offline lease (hours)', 'policy-lease', {
    type: 'number', min: 24, max: 2160, required: true, value: p.offline_lease_hours,
    hint: 'A device that has not reached the server for this long wipes itself at its next start (24–2160).',
  });
  const warn = field('Warn before the lease ends (hours)', 'policy-warn', {
    type: 'number', min: 1, required: true, value: p.lease_warning_hours,
    hint: 'Users are warned this long before their device would wipe itself.',
  });
  const consent = field('Photos need a recorded consent', 'policy-consent', { type: 'checkbox', checked: !!p.photo_consent_required });
  const exif = field('EXIF tags kept on photos', 'policy-exif', {
    value: (p.exif_keep || []).join(', '),
    autocomplete: 'off',
    hint: 'Comma-separated tag names, e.g. Orientation. Everything else (GPS included) is stripped.',
  });
  const rescue = field('Rescue unsynced work before a wipe', 'policy-rescue', { type: 'checkbox', checked: !!p.rescue_on_wipe });
  for (const f of [consent, rescue]) f.wrap.classList.add('check');
  const save = el('button', { type: 'submit' }, 'Save policies');
  const form = el('form', { 'aria-labelledby': 'policy-h' }, idle.wrap, lease.wrap, warn.wrap, consent.wrap, exif.wrap, rescue.wrap, save);
  form.addEventListener(
    'submit',
    busy(save, async () => {
      const next = {
        idle_lock_seconds: Number(idle.input.value),
        offline_lease_hours: Number(lease.input.value),
        lease_warning_hours: Number(warn.input.value),
        photo_consent_required: consent.input.checked,
        exif_keep: exif.input.value.split(',').map((s) => s.trim()).filter(Boolean),
        rescue_on_wipe: rescue.input.checked,
      };
      await withStepUp(() => state.api.put('/policy', next));
      say('Policies saved. Devices apply them at their next sync.');
    }),
  );
  fill(body, el('h3', { id: 'policy-h' }, 'Clinic policies'), form);
}

const RENDERERS = {
  devices: devicesSection,
  staff: staffSection,
  quarantine: quarantineSection,
  audit: auditSection,
  breach: breachSection,
  policy: policySection,
};

async function showSection(name) {
  state.section = name;
  for (const b of document.querySelectorAll('nav.sections button')) {
    if (b.dataset.section === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  const body = document.getElementById('section-body');
  const title = SECTIONS.find(([k]) => k === name)[1];
  document.getElementById('section-title').textContent = title;
  fill(body, el('p', {}, 'Loading…'));
  try {
    await RENDERERS[name](body);
  } catch (e) {
    fill(body, el('p', { class: 'empty' }, `${title} could not be loaded.`));
    fail(e);
  }
}

function dashboard() {
  const me = state.me;
  if (me.device_status === 'pending') {
    const b = el('button', { type: 'button' }, 'Check again');
    b.addEventListener('click', busy(b, afterSignIn));
    return el(
      'section',
      { class: 'card' },
      el('h2', {}, 'Waiting for approval'),
      el('p', {}, 'Another admin must approve this browser before it can manage the clinic.'),
      b,
    );
  }
  if (me.role !== 'admin') {
    return el('section', { class: 'card' }, el('h2', {}, 'Admins only'), el('p', {}, 'The console is for clinic admins.'));
  }
  const nav = el(
    'nav',
    { class: 'sections', 'aria-label': 'Console sections' },
    el(
      'ul',
      {},
      SECTIONS.map(([k, label]) => {
        const b = el('button', { type: 'button', 'data-section': k }, label);
        b.addEventListener('click', () => {
          clearMessages();
          showSection(k).then(() => document.getElementById('section-title').focus());
        });
        return el('li', {}, b);
      }),
    ),
  );
  const reload = el('button', { type: 'button', class: 'secondary' }, 'Decrypt client names');
  reload.addEventListener(
    'click',
    busy(reload, async () => {
      const failed = await loadClientNames();
      say(`${state.clients.size} client name(s) decrypted in this browser${failed ? `; ${failed} could not be opened` : ''}.`);
    }),
  );
  const view = el(
    'div',
    {},
    nav,
    el(
      'section',
      { class: 'card', 'aria-labelledby': 'section-title' },
      el('div', { class: 'section-head' }, el('h2', { id: 'section-title', tabindex: '-1' }), reload),
      el('div', { id: 'section-body' }),
    ),
  );
  setTimeout(() => showSection(state.section), 0);
  return view;
}

function header() {
  const who = document.getElementById('who');
  if (!state.device || !state.session) {
    fill(who);
    return;
  }
  const out = el('button', { type: 'button', class: 'secondary' }, 'Sign out');
  out.addEventListener('click', () => {
    clearSession();
    state.session = null;
    state.keys = null;
    state.clients = new Map();
    say('Signed out.');
    render();
  });
  const role = state.me ? state.me.role : '';
  fill(who, el('span', {}, `${state.device.name} · ${role} · clinic ${state.device.tenant.slice(0, 8)}`), out);
}

function render() {
  header();
  const m = main();
  if (!state.device) fill(m, enrollView());
  else if (!state.session || !state.me) fill(m, loginView());
  else fill(m, dashboard());
}

async function start() {
  try {
    if (!window.isSecureContext || !crypto.subtle) {
      throw new Error('The console needs a secure context (https, or http://localhost).');
    }
    state.device = await loadDevice();
    state.session = state.device ? loadSession() : null;
    if (state.device && state.session) {
      state.api = makeApi(state.device.tenant);
      try {
        state.me = await state.api.get('/me');
      } catch (e) {
        clearSession();
        state.session = null;
        if (!(e instanceof ApiError && e.status === 401)) fail(e);
      }
    }
    render();
  } catch (e) {
    fill(main(), el('p', {}, 'The console could not start.'));
    fail(e);
  }
}

start();
