// Ward admin console: how actions run. Messages in the page's live regions (status and alert),
// buttons disabled while their action is busy, errors shown in the server's words, the
// passkey step-up before destructive calls, and signing out (by hand, after inactivity, or
// when the server ended the session).

import { ApiError } from './api.js';
import { stopIdle } from './idle.js';
import { getAssertion, passkeyErrorMessage } from './passkey.js';
import { clearSession } from './store.js';
import { render, state } from './state.js';
import { announce } from './ui.js';

/** Empties the status and alert regions. */
export function clearMessages() {
  document.getElementById('status').textContent = '';
  document.getElementById('error').textContent = '';
}

/** Reports a success in the status region (and clears any error). */
export function say(text) {
  document.getElementById('error').textContent = '';
  announce(text, 'ok');
}

/** Shows an error in the alert region, in the server's words when it has some. */
export function fail(e) {
  document.getElementById('status').textContent = '';
  const pk = passkeyErrorMessage(e);
  let text;
  if (pk) text = pk;
  else if (e instanceof ApiError) text = `${e.message} (${e.code})`;
  else text = (e && e.message) || String(e);
  const live = document.getElementById('error');
  if (e instanceof ApiError && e.status === 401 && e.code === 'session_expired') {
    // Not a failure of the action: the clinic's idle or session limit ended the session.
    live.textContent = '';
    forgetSession();
    announce(sessionEndedText(e), 'info');
    return;
  }
  live.textContent = text;
  if (e instanceof ApiError && e.status === 401 && state.session) {
    forgetSession();
    live.textContent = `${text}. Your session ended: sign in again.`;
  }
}

/** What to say when the server ended the session (401 `session_expired`). */
export function sessionEndedText(e) {
  const why = String(e.message || '').replace(/[.\s]+$/, '');
  return `Your session ended${why ? `: ${why}` : ''}.${/sign in again/i.test(why) ? '' : ' Sign in again.'}`;
}

/** Drops the session and everything decrypted or loaded with it, and shows the sign-in card. */
function forgetSession() {
  stopIdle();
  const dialog = document.getElementById('confirm');
  if (dialog && dialog.open) dialog.close('cancel');
  clearSession();
  state.session = null;
  state.me = null;
  state.keys = null;
  state.clients = new Map();
  state.clientIds = [];
  state.users = new Map();
  state.devices = [];
  state.alerts = [];
  state.policy = null;
  render();
}

/**
 * Signs out: ends this browser's session on the server too (best effort: an expired session
 * is already over), forgets it here, and says `message` (e.g. "Signed out after inactivity.").
 */
export async function signOut(message) {
  const { session, device } = state;
  if (session && device && state.api) {
    const path = `/devices/${device.deviceId}/sessions/${encodeURIComponent(session.session_id)}/end`;
    await Promise.race([state.api.post(path).catch(() => {}), new Promise((r) => setTimeout(r, 3000))]);
  }
  forgetSession();
  clearMessages();
  announce(message, 'info');
}

/** Runs `fn` for a button: disabled while busy, errors shown. */
export function busy(button, fn) {
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
export async function withStepUp(fn) {
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
