// The console's WebCrypto code against Rust-made bytes (no browser, no server): the request
// canonical form pinned in core/proto/src/signing.rs, and envelopes sealed by ward-proto
// (vectors.json, written and re-opened by core/proto/tests/console_vector.rs).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { canonicalRequest, fromB64url, b64url, openEnvelope, parseHeader, uuidBytes } from '../../backend/console/wcrypto.js';

const vectors = JSON.parse(readFileSync(new URL('./vectors.json', import.meta.url), 'utf8'));
const dec = new TextDecoder();

async function tenantKeys() {
  const raw = fromB64url(vectors.tenant_key);
  const key = await crypto.subtle.importKey('raw', raw, { name: 'AES-GCM' }, false, ['decrypt']);
  return new Map([[vectors.epoch, key]]);
}

test('canonical request matches signing.rs', async () => {
  const body = new TextEncoder().encode('{"note":1}');
  const c = await canonicalRequest('post', '/v1/x?a=1', body, 1700000000000, 'n1', 's1');
  assert.equal(
    dec.decode(c),
    'ward-req-v1\nPOST\n/v1/x?a=1\nb11c1b258396ebec25aa4ab2595478a8212760eeef58ddc94932e0cb1d7bf305\n1700000000000\nn1\ns1',
  );
  const empty = await canonicalRequest('GET', '/', new Uint8Array(0), -5, 'n', '');
  assert.equal(
    dec.decode(empty),
    'ward-req-v1\nGET\n/\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n-5\nn\n',
  );
  await assert.rejects(canonicalRequest('GET', '/a\n/b', new Uint8Array(0), 1, 'n', ''));
});

test('base64url and uuid helpers', () => {
  const bytes = new Uint8Array([0, 251, 255, 1, 2]);
  assert.equal(b64url(bytes), 'APv_AQI');
  assert.deepEqual(fromB64url('APv_AQI'), bytes);
  assert.throws(() => fromB64url('AP+/AQI'));
  assert.equal(uuidBytes(vectors.tenant).length, 16);
});

test('both envelope formats are covered', () => {
  const formats = vectors.envelopes.map((v) => fromB64url(v.envelope)[4]);
  assert.deepEqual(formats, [1, 1, 2, 2]);
});

for (const v of vectors.envelopes) {
  test(`ward-proto envelope opens in WebCrypto: ${v.name}`, async () => {
    const keys = await tenantKeys();
    const bytes = fromB64url(v.envelope);
    const h = parseHeader(bytes);
    assert.equal(h.epoch, vectors.epoch);
    assert.equal(h.noteState, { 1: 'draft', 2: 'signed', 3: 'addendum' }[v.note_state] ?? null);
    if (h.format === 2) {
      // The state byte is authenticated: relabelled, the envelope no longer opens.
      const relabelled = bytes.slice();
      relabelled[6] = v.kind === 2 ? (bytes[6] % 3) + 1 : 2;
      await assert.rejects(openEnvelope(
        { tenant: vectors.tenant, object: v.object_id, version: v.version_id, kind: v.kind }, keys, relabelled));
    }
    const expected = { tenant: vectors.tenant, object: v.object_id, version: v.version_id, kind: v.kind };
    const plain = await openEnvelope(expected, keys, bytes);
    assert.equal(dec.decode(plain), v.plaintext);
    // Bound to its identity, its key and its bytes.
    await assert.rejects(openEnvelope({ ...expected, version: v.object_id }, keys, bytes), /another object/);
    await assert.rejects(openEnvelope({ ...expected, kind: v.kind + 1 }, keys, bytes), /another object/);
    await assert.rejects(openEnvelope(expected, new Map(), bytes), /no tenant key/);
    const tampered = bytes.slice();
    tampered[tampered.length - 1] ^= 1;
    await assert.rejects(openEnvelope(expected, keys, tampered));
    await assert.rejects(openEnvelope(expected, keys, bytes.subarray(0, bytes.length - 1)));
  });
}
