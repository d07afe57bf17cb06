// Ward admin console: what the browser keeps. The enrolled browser is a device: its id, its
// user, its tenant and its Ed25519 key pair live in IndexedDB. The key pair is stored as
// WebCrypto CryptoKey objects created non-extractable, so script on this page can sign with
// it but nothing can read the private key bytes out. The session (bearer token + id) lives in
// sessionStorage only (gone when the tab closes) and is useless without the device key.
// Tenant keys and decrypted client names are never stored: memory only.

const DB = 'ward-console';
const STORE = 'device';

function db() {
  return new Promise((resolve, reject) => {
    const req = indexedDB.open(DB, 1);
    req.onupgradeneeded = () => req.result.createObjectStore(STORE);
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

async function tx(mode, fn) {
  const d = await db();
  try {
    return await new Promise((resolve, reject) => {
      const t = d.transaction(STORE, mode);
      const req = fn(t.objectStore(STORE));
      t.oncomplete = () => resolve(req ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  } finally {
    d.close();
  }
}

/** The enrolled device of this browser: {tenant, deviceId, userId, name, keyPair} or null. */
export async function loadDevice() {
  return (await tx('readonly', (s) => s.get('current'))) || null;
}

/** Saves the enrolled device (after a successful enrollment). */
export async function saveDevice(device) {
  await tx('readwrite', (s) => s.put(device, 'current'));
}

/** Forgets this browser's device (its key is gone for good; enroll again with an invite). */
export async function forgetDevice() {
  await tx('readwrite', (s) => s.delete('current'));
  sessionStorage.removeItem('ward-session');
}

/** The current session {session_id, token, expires_at_ms} or null when none or expired. */
export function loadSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem('ward-session') || 'null');
    return s && s.expires_at_ms > Date.now() ? s : null;
  } catch {
    return null;
  }
}

/** Keeps a session for this tab. */
export function saveSession(grant) {
  const s = { session_id: grant.session_id, token: grant.token, expires_at_ms: grant.expires_at_ms };
  sessionStorage.setItem('ward-session', JSON.stringify(s));
  return s;
}

/** Drops the session (sign out). */
export function clearSession() {
  sessionStorage.removeItem('ward-session');
}
