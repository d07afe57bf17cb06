// Ward admin console: the page. This browser is enrolled like a phone (its own device id and
// non-extractable Ed25519 key, a passkey for its user); every API call is signed. Client names
// are decrypted here, with tenant keys sealed to a one-time X25519 key of this page; the
// server only ever sees ciphertext. This module starts the page and wires its navigation;
// each section is a module of its own (devices, staff and invites, quarantine, audit log,
// breach-scope report, policies), sharing state.js, actions.js and names.js. Destructive
// actions (revoke and wipe, lockdown, policy changes) ask for a passkey step-up first.

import { ApiError } from './api.js';
import { busy, clearMessages, fail, say } from './actions.js';
import * as audit from './audit.js';
import * as breach from './breach.js';
import * as devices from './devices.js';
import { loadClientNames } from './names.js';
import * as policies from './policies.js';
import * as quarantine from './quarantine.js';
import { afterSignIn, enrollView, loginView } from './signin.js';
import * as staff from './staff.js';
import { makeApi, setNavigation, state } from './state.js';
import { clearSession, loadDevice, loadSession } from './store.js';
import { el, fill } from './ui.js';

/** The sections, in navigation order: each module exports `id`, `title` and `render(body)`. */
const SECTIONS = [devices, staff, quarantine, audit, breach, policies];

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
      }
    }
    render();
  } catch (e) {
    fill(main(), el('p', {}, 'The console could not start.'));
    fail(e);
  }
}

start();
