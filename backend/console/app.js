// Ward admin console: the page. This browser is enrolled like a phone (its own device id and
// non-extractable Ed25519 key, a passkey for its user); every API call is signed. Client names
// are decrypted here, with tenant keys sealed to a one-time X25519 key of this page; the
// server only ever sees ciphertext. This module starts the page and wires its navigation;
// each section is a module of its own (devices, people, care teams, break-glass alerts,
// quarantine, audit log, breach-scope report, policies), sharing state.js, actions.js and
// names.js. Destructive actions (revoke and wipe, lockdown, role changes, deactivation, policy
// changes) ask for a passkey step-up first. A signed-in console signs itself out after the
// clinic's idle timeout (idle.js); a banner above the navigation shows unacknowledged
// break-glass alerts.

import * as alerts from './alerts.js';
import { ApiError } from './api.js';
import { busy, clearMessages, fail, say, sessionEndedText, signOut } from './actions.js';
import * as audit from './audit.js';
import * as breach from './breach.js';
import * as devices from './devices.js';
import * as erasure from './erasure.js';
import { startIdle, setIdleMinutes, stopIdle } from './idle.js';
import { loadClientNames } from './names.js';
import * as policies from './policies.js';
import * as quarantine from './quarantine.js';
import { afterSignIn, enrollView, loginView } from './signin.js';
import * as staff from './staff.js';
import { makeApi, setNavigation, state } from './state.js';
import { clearSession, loadDevice, loadSession } from './store.js';
import * as teams from './teams.js';
import { el, fill } from './ui.js';

/** The sections, in navigation order: each module exports `id`, `title` and `render(body)`. */
const SECTIONS = [devices, staff, teams, alerts, quarantine, audit, breach, erasure, policies];

const main = () => document.getElementById('main');

async function showSection(name) {
  state.section = name;
  for (const b of document.querySelectorAll('nav.sections button')) {
    if (b.dataset.section === name) b.setAttribute('aria-current', 'page');
    else b.removeAttribute('aria-current');
  }
  const body = document.getElementById('section-body');
  const section = SECTIONS.find((s) => s.id === name);
  const { title } = section;
  document.getElementById('section-title').textContent = title;
  fill(body, el('p', {}, 'Loading…'));
  if (name !== alerts.id) {
    alerts.refreshAlerts().catch((e) => {
      if (e instanceof ApiError && e.status === 401) fail(e);
    });
  }
  try {
    await section.render(body);
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
      SECTIONS.map(({ id, title }) => {
        const b = el('button', { type: 'button', 'data-section': id }, title);
        b.addEventListener('click', () => {
          clearMessages();
          showSection(id).then(() => document.getElementById('section-title').focus());
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
    alerts.bannerSlot(),
    nav,
    el(
      'section',
      { class: 'card', 'aria-labelledby': 'section-title' },
      el('div', { class: 'section-head' }, el('h2', { id: 'section-title', tabindex: '-1' }), reload),
      el('div', { id: 'section-body' }),
    ),
  );
  setTimeout(() => {
    showSection(state.section);
    alerts.startAlertPoll();
  }, 0);
  return view;
}

function header() {
  const who = document.getElementById('who');
  if (!state.device || !state.session) {
    fill(who);
    return;
  }
  const out = el('button', { type: 'button', class: 'secondary' }, 'Sign out');
  out.addEventListener('click', busy(out, () => signOut('Signed out.')));
  const role = state.me ? state.me.role : '';
  fill(who, el('span', {}, `${state.device.name} · ${role} · clinic ${state.device.tenant.slice(0, 8)}`), out);
}

/** Starts the idle logout for a signed-in page: the policy from /me, then GET /policy's. */
function watchIdle() {
  const fire = () => signOut('Signed out after inactivity.');
  startIdle(state.me.policy && state.me.policy.console_idle_minutes, fire);
  if (state.me.role !== 'admin' || state.me.device_status !== 'active') return;
  state.api
    .get('/policy')
    .then((p) => {
      state.policy = p;
      setIdleMinutes(p.console_idle_minutes);
    })
    .catch((e) => {
      if (e instanceof ApiError && e.status === 401) fail(e);
    });
}

function render() {
  header();
  const m = main();
  if (!state.device) fill(m, enrollView());
  else if (!state.session || !state.me) fill(m, loginView());
  else fill(m, dashboard());
  if (state.session && state.me) watchIdle();
  else stopIdle();
}

setNavigation({ render, show: showSection });

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
        else if (e.code === 'session_expired') say(sessionEndedText(e));
      }
    }
    render();
  } catch (e) {
    fill(main(), el('p', {}, 'The console could not start.'));
    fail(e);
  }
}

start();
