// Ward admin console: the API client. Public calls (enroll, login) are plain JSON; every other
// call carries the session's bearer token and a signature by this browser's device key over
// the request (core/proto/src/signing.rs). Errors become ApiError with the server's code and
// message, so the page can show the server's own words.

import { signRequest } from './wcrypto.js';

/** An error answered by the server (or the network). */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function parse(resp) {
  const text = await resp.text();
  let body = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (!resp.ok) throw errorFrom(resp, body);
  return body;
}

/**
 * The ApiError for a failed response. The server always answers `{"error": {"code",
 * "message"}}` (codes: core/proto/src/errors.rs); any other body (not JSON, or another shape,
 * e.g. from a proxy) becomes `http_<status>` with the status line as its message.
 */
function errorFrom(resp, body) {
  const statusLine = `The server answered ${resp.status} ${resp.statusText}`;
  const e = body && typeof body === 'object' ? body.error : null;
  if (e && typeof e === 'object' && typeof e.code === 'string' && e.code) {
    return new ApiError(resp.status, e.code, typeof e.message === 'string' && e.message ? e.message : statusLine);
  }
  return new ApiError(resp.status, `http_${resp.status}`, statusLine);
}

async function send(url, init) {
  let resp;
  try {
    resp = await fetch(url, init);
  } catch (e) {
    throw new ApiError(0, 'network', `Cannot reach the server (${e.message}).`);
  }
  return parse(resp);
}

/** A client for one tenant. `auth()` returns {device, session} for signed calls. */
export class Api {
  constructor(tenant, auth) {
    this.tenant = tenant;
    this.auth = auth;
  }

  path(rest) {
    return `/v1/tenants/${encodeURIComponent(this.tenant)}${rest}`;
  }

  /** An unauthenticated JSON POST (enroll, login). */
  async publicPost(rest, body) {
    return send(this.path(rest), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  /** A signed request; `raw` returns the Response text instead of parsed JSON. */
  async call(method, rest, body, { raw = false } = {}) {
    const { device, session } = this.auth();
    if (!device || !session) throw new ApiError(401, 'unauthenticated', 'Sign in first.');
    const path = this.path(rest);
    const bytes = body === undefined ? new Uint8Array(0) : new TextEncoder().encode(JSON.stringify(body));
    const sig = await signRequest(device.keyPair.privateKey, method, path, bytes, session.session_id);
    const headers = {
      authorization: `Bearer ${session.token}`,
      'x-ward-session': session.session_id,
      'x-ward-device': device.deviceId,
      'x-ward-timestamp': sig.timestamp,
      'x-ward-nonce': sig.nonce,
      'x-ward-signature': sig.signature,
    };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const init = { method, headers, body: body === undefined ? undefined : bytes };
    if (!raw) return send(path, init);
    let resp;
    try {
      resp = await fetch(path, init);
    } catch (e) {
      throw new ApiError(0, 'network', `Cannot reach the server (${e.message}).`);
    }
    if (!resp.ok) return parse(resp);
    return resp.text();
  }

  get(rest, opts) {
    return this.call('GET', rest, undefined, opts);
  }

  post(rest, body) {
    return this.call('POST', rest, body);
  }

  put(rest, body) {
    return this.call('PUT', rest, body);
  }
}

/** A query string from an object, leaving out empty values. */
export function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}
