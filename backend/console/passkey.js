// Ward admin console: WebAuthn ceremonies. The server (webauthn-rs) sends its options as JSON
// with base64url byte fields; the browser API wants ArrayBuffers, and the answer goes back as
// JSON with base64url byte fields again. Only the fields that carry bytes are converted.

import { b64url, fromB64url } from './wcrypto.js';

function descriptors(list) {
  return (list || []).map((d) => ({ ...d, id: fromB64url(d.id) }));
}

/** Registers a new passkey from webauthn-rs CreationChallengeResponse options. */
export async function createPasskey(options) {
  const pk = options.publicKey;
  const publicKey = {
    ...pk,
    challenge: fromB64url(pk.challenge),
    user: { ...pk.user, id: fromB64url(pk.user.id) },
    excludeCredentials: descriptors(pk.excludeCredentials),
  };
  const cred = await navigator.credentials.create({ publicKey });
  if (!cred) throw new Error('no passkey was created');
  return {
    id: cred.id,
    rawId: b64url(cred.rawId),
    type: cred.type,
    response: {
      attestationObject: b64url(cred.response.attestationObject),
      clientDataJSON: b64url(cred.response.clientDataJSON),
    },
    // Client extension outputs are not needed by the server; sent empty so their shapes
    // (which vary by browser) never fail its parser.
    extensions: {},
  };
}

/** Asserts an existing passkey from webauthn-rs RequestChallengeResponse options. */
export async function getAssertion(options) {
  const pk = options.publicKey;
  const publicKey = {
    ...pk,
    challenge: fromB64url(pk.challenge),
    allowCredentials: descriptors(pk.allowCredentials),
  };
  const cred = await navigator.credentials.get({ publicKey });
  if (!cred) throw new Error('no passkey was used');
  const r = cred.response;
  return {
    id: cred.id,
    rawId: b64url(cred.rawId),
    type: cred.type,
    response: {
      authenticatorData: b64url(r.authenticatorData),
      clientDataJSON: b64url(r.clientDataJSON),
      signature: b64url(r.signature),
      userHandle: r.userHandle ? b64url(r.userHandle) : null,
    },
    extensions: {},
  };
}

/** Explains a WebAuthn DOMException in words a person can act on. */
export function passkeyErrorMessage(e) {
  if (e && e.name === 'NotAllowedError') {
    return 'The passkey request was cancelled or timed out. Try again.';
  }
  if (e && e.name === 'InvalidStateError') return 'This authenticator is already registered.';
  if (e && e.name === 'SecurityError') {
    return 'The browser refused the passkey for this address (open the console on the server\'s own origin).';
  }
  return null;
}
