// Ward admin console: names for ids. Client names are decrypted here, with tenant keys sealed
// to a one-time X25519 key of this page (the server only ever sees ciphertext); staff and
// device names come from the server's lists. All of it is kept in memory only.

import { query } from './api.js';
import { state } from './state.js';
import { KIND, newSealRequestKey, openClientKeys, openRecord, openTenantKeys } from './wcrypto.js';

async function fetchKeys() {
  // Two one-time keys: an X25519 key agrees once (the client keys are a second sealed box).
  const requestKey = await newSealRequestKey();
  const clientRequestKey = await newSealRequestKey();
  const released = await state.api.post('/keys/release', {
    ephemeral_public: requestKey.publicKey,
    client_ephemeral_public: clientRequestKey.publicKey,
  });
  const keys = await openTenantKeys(requestKey, released, state.device.tenant);
  keys.clients = await openClientKeys(clientRequestKey, released, state.device.tenant);
  state.keys = keys;
}

/** Opens a record envelope with the tenant keys, fetching them (again) when needed. */
export async function openWithKeys(expected, envelope) {
  if (!state.keys) await fetchKeys();
  try {
    return await openRecord(expected, state.keys, envelope);
  } catch (e) {
    if (/no tenant key for epoch|no client key of generation/.test(e.message)) {
      await fetchKeys(); // a revocation or a care-team change rotated a key since
      return openRecord(expected, state.keys, envelope);
    }
    throw e;
  }
}

/**
 * Pulls the feed and decrypts every client record's latest version, in this browser.
 * Returns how many could not be opened.
 */
export async function loadClientNames() {
  const names = new Map();
  const ids = new Set();
  let after = 0;
  let failed = 0;
  for (let page = 0; page < 1000; page++) {
    const p = await state.api.get(`/objects/pull${query({ after, limit: 1000 })}`);
    for (const o of p.objects) {
      if (o.kind !== KIND.client || !o.envelope) continue;
      ids.add(o.object_id);
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
  state.clientIds = [...ids];
  return failed;
}

/** A client's decrypted name, or a short id when it is not (yet) decrypted. */
export function clientName(id) {
  if (!id) return '—';
  const n = state.clients.get(id);
  return n ? `${n}` : `unknown client ${id.slice(0, 8)}`;
}

/** A client's name when decrypted, else its id: for lists where the id is all there is. */
export function clientLabel(id) {
  return state.clients.get(id) || `client ${String(id).slice(0, 8)}`;
}

/** A staff member's name, or a short id. */
export function userName(id) {
  const u = state.users.get(id);
  return u ? u.display_name : id ? `user ${String(id).slice(0, 8)}` : '—';
}

/** A device's name, or a short id. */
export function deviceName(id) {
  const d = state.devices.find((x) => x.device_id === id);
  return d ? d.name : id ? `device ${String(id).slice(0, 8)}` : '—';
}

/**
 * Loads the clinic's people (`GET /users`: each with role, status, devices and live
 * sessions) and devices (`GET /devices`: with wipe state) into the state.
 */
export async function loadPeople() {
  const [users, devices] = await Promise.all([state.api.get('/users'), state.api.get('/devices')]);
  state.users = new Map(users.map((u) => [u.user_id, u]));
  state.devices = devices;
}
