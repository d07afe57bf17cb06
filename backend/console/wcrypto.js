// Ward admin console: every cryptographic step, on WebCrypto only (no library).
//
// - Request signing (core/proto/src/signing.rs): Ed25519 over the canonical request
//   "ward-req-v1\nMETHOD\npath?query\nhex(sha256(body))\ntimestamp\nnonce\nsession".
// - Sealed key delivery (core/proto/src/sealed.rs): X25519 + HKDF-SHA256 + AES-256-GCM with a
//   one-time key pair made for one /keys/release call.
// - Envelopes (core/proto/src/envelope.rs, stream.rs): a 124-byte header whose content key is
//   wrapped by the tenant key of an epoch, then AES-256-GCM chunks with counter nonces.
//
// Tenant keys are imported as non-extractable AES-GCM keys that can only decrypt, and live in
// memory only (never in storage).

const enc = new TextEncoder();
const dec = new TextDecoder('utf-8', { fatal: true });

/** Unpadded base64url of bytes. */
export function b64url(bytes) {
  const u8 = bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes);
  let s = '';
  for (let i = 0; i < u8.length; i += 0x8000) {
    s += String.fromCharCode(...u8.subarray(i, i + 0x8000));
  }
  return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Bytes of (padded or unpadded) base64url. Throws on other input. */
export function fromB64url(text) {
  if (typeof text !== 'string' || !/^[A-Za-z0-9_-]*={0,2}$/.test(text)) {
    throw new Error('malformed base64url');
  }
  const b64 = text.replace(/=+$/, '').replace(/-/g, '+').replace(/_/g, '/');
  const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
  const bin = atob(padded);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function hex(bytes) {
  return Array.from(new Uint8Array(bytes), (b) => b.toString(16).padStart(2, '0')).join('');
}

function concat(...parts) {
  const len = parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(len);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** The 16 bytes of a hyphenated UUID (tenant, object, version ids). */
export function uuidBytes(id) {
  const h = String(id).replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(h)) throw new Error(`not a UUID: ${id}`);
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

function uuidString(bytes) {
  const h = hex(bytes);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

// ---------------------------------------------------------------- device key and signing

/** A fresh Ed25519 device key whose private half can never be exported. */
export async function newDeviceKey() {
  const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify']);
  const raw = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { pair, publicKey: b64url(raw) };
}

/** The bytes a request signature covers (signing.rs `canonical_request`). */
export async function canonicalRequest(method, pathAndQuery, body, timestampMs, nonce, session) {
  for (const [name, v] of [['path', pathAndQuery], ['nonce', nonce], ['session', session]]) {
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f-\u009f]/.test(v)) throw new Error(`control character in ${name}`);
  }
  const digest = await crypto.subtle.digest('SHA-256', body);
  return enc.encode(
    ['ward-req-v1', method.toUpperCase(), pathAndQuery, hex(digest), String(timestampMs), nonce, session].join('\n'),
  );
}

/** Signs a request with the device key: the x-ward-* header values. */
export async function signRequest(privateKey, method, pathAndQuery, body, session) {
  const timestamp = Date.now();
  const nonce = b64url(crypto.getRandomValues(new Uint8Array(16)));
  const msg = await canonicalRequest(method, pathAndQuery, body, timestamp, nonce, session);
  const sig = await crypto.subtle.sign({ name: 'Ed25519' }, privateKey, msg);
  return { timestamp: String(timestamp), nonce, signature: b64url(sig) };
}

// ---------------------------------------------------------------- sealed key delivery

const SEAL_SALT = enc.encode('ward sealed key v1');

/** A one-time X25519 key for one key release (its private half cannot be exported). */
export async function newSealRequestKey() {
  const pair = await crypto.subtle.generateKey({ name: 'X25519' }, false, ['deriveBits']);
  const pub = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return { pair, publicRaw: pub, publicKey: b64url(pub) };
}

/** Opens a SealedKey JSON (`{version, ephemeral_public, ciphertext}`) sealed to `requestKey`. */
export async function openSealed(requestKey, sealed, context) {
  if (sealed.version !== 1) throw new Error(`unsupported sealed key version ${sealed.version}`);
  const senderPub = fromB64url(sealed.ephemeral_public);
  if (senderPub.length !== 32) throw new Error('sealed key: bad ephemeral key');
  const peer = await crypto.subtle.importKey('raw', senderPub, { name: 'X25519' }, false, []);
  const bits = new Uint8Array(
    await crypto.subtle.deriveBits({ name: 'X25519', public: peer }, requestKey.pair.privateKey, 256),
  );
  if (bits.every((b) => b === 0)) throw new Error('sealed key: invalid public key');
  const ikm = await crypto.subtle.importKey('raw', bits, 'HKDF', false, ['deriveKey']);
  const info = concat(senderPub, requestKey.publicRaw, context);
  const key = await crypto.subtle.deriveKey(
    { name: 'HKDF', hash: 'SHA-256', salt: SEAL_SALT, info },
    ikm,
    { name: 'AES-GCM', length: 256 },
    false,
    ['decrypt'],
  );
  const plain = await crypto.subtle.decrypt(
    { name: 'AES-GCM', iv: new Uint8Array(12), additionalData: context },
    key,
    fromB64url(sealed.ciphertext),
  );
  return new Uint8Array(plain);
}

/** The sealing context of a tenant-key release (api.rs `release_context`). */
export function releaseContext(tenant) {
  return concat(enc.encode('ward tenant keys v1'), uuidBytes(tenant));
}

/**
 * Turns a /keys/release answer into a Map epoch -> non-extractable AES-GCM key. The opened
 * payload is `epoch (4 bytes BE) ‖ key (32 bytes)` per epoch; the raw bytes are overwritten
 * once imported.
 */
export async function openTenantKeys(requestKey, released, tenant) {
  const payload = await openSealed(requestKey, released.sealed, releaseContext(tenant));
  try {
    if (payload.length % 36 !== 0) throw new Error('key release: malformed payload');
    const keys = new Map();
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    for (let at = 0; at < payload.length; at += 36) {
      const epoch = view.getUint32(at);
      const key = await crypto.subtle.importKey(
        'raw',
        payload.subarray(at + 4, at + 36),
        { name: 'AES-GCM' },
        false,
        ['decrypt'],
      );
      keys.set(epoch, key);
    }
    return keys;
  } finally {
    payload.fill(0);
  }
}

/** The sealing context of a client-key release (client_keys.rs `client_release_context`). */
export function clientReleaseContext(tenant) {
  return concat(enc.encode('ward client keys v1'), uuidBytes(tenant));
}

/**
 * Opens the `client_keys` of a /keys/release answer (ADR 0015) into a Map
 * `"<client id>:<generation>"` -> non-extractable AES-GCM key. The payload is
 * `client id (16) ‖ generation (4 bytes BE) ‖ key (32)` per key; raw bytes are overwritten.
 */
export async function openClientKeys(requestKey, released, tenant) {
  const keys = new Map();
  if (!released.client_keys) return keys;
  const payload = await openSealed(requestKey, released.client_keys, clientReleaseContext(tenant));
  try {
    if (payload.length % 52 !== 0) throw new Error('client-key release: malformed payload');
    const view = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
    for (let at = 0; at < payload.length; at += 52) {
      const client = uuidString(payload.subarray(at, at + 16));
      const generation = view.getUint32(at + 16);
      const key = await crypto.subtle.importKey(
        'raw',
        payload.subarray(at + 20, at + 52),
        { name: 'AES-GCM' },
        false,
        ['decrypt'],
      );
      keys.set(`${client}:${generation}`, key);
    }
    return keys;
  } finally {
    payload.fill(0);
  }
}

// ---------------------------------------------------------------- envelopes

export const KIND = { client: 1, note: 2, photo_meta: 3, photo_content: 4, thumbnail: 5, consent: 6 };
const NOTE_STATE = { 1: 'draft', 2: 'signed', 3: 'addendum' };
const HEADER_LEN = 124;
const TAG_LEN = 16;

/** Parses an envelope header (no decryption). */
export function parseHeader(bytes) {
  if (bytes.length < HEADER_LEN) throw new Error('envelope shorter than its header');
  if (dec.decode(bytes.subarray(0, 4)) !== 'WARD') throw new Error('not a Ward envelope');
  // Format 1: bytes 6..8 zero. Format 2: byte 6 is a note's state (1 draft, 2 signed,
  // 3 addendum; 0 for every other kind), byte 7 zero. Both are bound into the AAD.
  // Format 3: as format 2, with the content key wrapped under a client key whose generation
  // is in bytes 56..60 (ADR 0015).
  const format = bytes[4];
  if (format !== 1 && format !== 2 && format !== 3) throw new Error(`unsupported envelope format ${format}`);
  if (bytes[7] !== 0 || (format === 1 && bytes[6] !== 0)) throw new Error('unsupported envelope flags');
  const isNote = bytes[5] === KIND.note;
  if (format >= 2 && (isNote ? ![1, 2, 3].includes(bytes[6]) : bytes[6] !== 0)) {
    throw new Error(`bad note state ${bytes[6]}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    format,
    noteState: format >= 2 && isNote ? NOTE_STATE[bytes[6]] : null,
    kind: bytes[5],
    tenant: uuidString(bytes.subarray(8, 24)),
    object: uuidString(bytes.subarray(24, 40)),
    version: uuidString(bytes.subarray(40, 56)),
    epoch: view.getUint32(56),
    chunkSize: view.getUint32(60),
  };
}

/**
 * Opens an envelope that must be `expected` ({tenant, object, version, kind, client?}) with
 * the tenant keys (Map epoch -> CryptoKey; its `clients` property, if set, a Map
 * "<client>:<generation>" -> CryptoKey): the header's identity is checked, the content key
 * unwrapped (AAD = header bytes 0..64, and for format 3 ‖ the client id), then every chunk
 * opened with nonce = 0,0,0 ‖ counter (u64 BE) ‖ final flag and AAD = header bytes 0..56.
 */
export async function openEnvelope(expected, keys, bytes) {
  const h = parseHeader(bytes);
  if (
    h.tenant !== expected.tenant.toLowerCase() ||
    h.object !== expected.object.toLowerCase() ||
    h.version !== expected.version.toLowerCase() ||
    h.kind !== expected.kind
  ) {
    throw new Error('envelope belongs to another object');
  }
  let wrapKey;
  let wrapAad = bytes.slice(0, 64);
  if (h.format === 3) {
    if (!expected.client) throw new Error('a client envelope needs its client id');
    const client = expected.client.toLowerCase();
    wrapKey = keys.clients && keys.clients.get(`${client}:${h.epoch}`);
    if (!wrapKey) throw new Error(`no client key of generation ${h.epoch} for this client`);
    wrapAad = concat(wrapAad, uuidBytes(client));
  } else {
    wrapKey = keys.get(h.epoch);
    if (!wrapKey) throw new Error(`no tenant key for epoch ${h.epoch}`);
  }
  const cekRaw = new Uint8Array(
    await crypto.subtle.decrypt(
      { name: 'AES-GCM', iv: bytes.slice(64, 76), additionalData: wrapAad },
      wrapKey,
      bytes.slice(76, HEADER_LEN),
    ),
  );
  const cek = await crypto.subtle.importKey('raw', cekRaw, { name: 'AES-GCM' }, false, ['decrypt']);
  cekRaw.fill(0);
  const aad = bytes.slice(0, 56);
  const body = bytes.subarray(HEADER_LEN);
  const sealedChunk = h.chunkSize + TAG_LEN;
  if (h.chunkSize < 1024 || body.length < TAG_LEN) throw new Error('malformed envelope body');
  const chunks = Math.max(1, Math.ceil(body.length / sealedChunk));
  const last = body.length - (chunks - 1) * sealedChunk;
  if (last < TAG_LEN || (last === TAG_LEN && chunks > 1)) throw new Error('malformed envelope body');
  const parts = [];
  for (let i = 0; i < chunks; i++) {
    const nonce = new Uint8Array(12);
    new DataView(nonce.buffer).setBigUint64(3, BigInt(i));
    nonce[11] = i === chunks - 1 ? 1 : 0;
    const chunk = body.subarray(i * sealedChunk, Math.min((i + 1) * sealedChunk, body.length));
    parts.push(
      new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv: nonce, additionalData: aad }, cek, chunk)),
    );
  }
  return concat(...parts);
}

/** Opens a JSON record envelope (client, note, …) and parses it. */
export async function openRecord(expected, keys, envelopeB64) {
  const plain = await openEnvelope(expected, keys, fromB64url(envelopeB64));
  try {
    return JSON.parse(dec.decode(plain));
  } finally {
    plain.fill(0);
  }
}
