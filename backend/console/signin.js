// Ward admin console: enrollment and sign-in. The browser enrolls like a phone: a passkey for
// its user and a non-extractable Ed25519 device key of its own, with the one-time setup code
// (first admin), an invite, or a new-device code for an existing person; afterwards the admin
// signs in with that passkey. The server knows this device as a console (`platform:
// "browser"`): its sessions end after the clinic's idle timeout.

import { busy, say } from './actions.js';
import { createPasskey, getAssertion } from './passkey.js';
import { forgetDevice, saveDevice, saveSession } from './store.js';
import { makeApi, render, state } from './state.js';
import { confirmDialog, el, field } from './ui.js';
import { newDeviceKey } from './wcrypto.js';

/** The enrollment form (no device in this browser yet). */
export function enrollView() {
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
    hint: 'The one-time setup code (first admin), an invite code, or a new-device code from another admin.',
  });
  const name = field('Your name', 'enroll-name', {
    required: true,
    autocomplete: 'name',
    hint: 'With a new-device code, the name you already have is kept.',
  });
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
        device: { device_id: deviceId, public_key: key.publicKey, name: devName.input.value.trim(), platform: 'browser' },
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

/** The sign-in card (an enrolled device without a session). */
export function loginView() {
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

/** After enrolling or signing in: learns who this is (`/me`) and draws the page. */
export async function afterSignIn() {
  state.api = makeApi(state.device.tenant);
  state.me = await state.api.get('/me');
  render();
}
