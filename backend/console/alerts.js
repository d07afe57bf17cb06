// Ward admin console: the Break-glass alerts section and the banner above the navigation. A
// clinician who is not on a client's care team may open the record in an emergency (with a
// typed reason, for the policy's `break_glass_minutes`); every such grant is an alert here
// until an admin acknowledges it. Unacknowledged alerts come first.

import { busy, fail, say } from './actions.js';
import { ApiError } from './api.js';
import { idleForMs } from './idle.js';
import { clientLabel, clientName, deviceName, loadClientNames, loadPeople, userName } from './names.js';
import { showSection, state } from './state.js';
import { el, fill, table, when } from './ui.js';

export const id = 'alerts';
export const title = 'Break-glass alerts';

const POLL_MS = 60_000;
let polling = null;

const open = (g) => !g.acknowledged_at_ms;

/** Unacknowledged first, newest first within each group. */
function ordered(grants) {
  return [...grants].sort((a, b) => open(b) - open(a) || b.granted_at_ms - a.granted_at_ms);
}

/** Fetches the alerts into the state and redraws the banner. Returns the grants. */
export async function refreshAlerts() {
  state.alerts = ordered(await state.api.get('/break-glass'));
  drawBanner();
  return state.alerts;
}

/** The banner's place in the dashboard (filled by `drawBanner`). */
export function bannerSlot() {
  return el('div', { id: 'alert-banner' });
}

function drawBanner() {
  const slot = document.getElementById('alert-banner');
  if (!slot) return;
  const pending = state.alerts.filter(open);
  if (pending.length === 0) {
    fill(slot);
    return;
  }
  const review = el('button', { type: 'button', class: 'danger' }, 'Review break-glass alerts');
  review.addEventListener('click', () => showSection(id).then(() => document.getElementById('section-title').focus()));
  const who = pending
    .slice(0, 3)
    .map((g) => `${g.display_name} (${clientLabel(g.client_id)})`)
    .join(', ');
  const n = pending.length;
  fill(
    slot,
    el(
      'section',
      { class: 'banner', 'aria-labelledby': 'alert-banner-h' },
      el('h2', { id: 'alert-banner-h' }, `${n} unacknowledged break-glass alert${n === 1 ? '' : 's'}`),
      el('p', {}, `Emergency access to a client outside their care team: ${who}${n > 3 ? ', …' : ''}.`),
      review,
    ),
  );
}

/**
 * Redraws the banner every minute while someone uses the page (showing a section redraws it
 * too). No activity, no request: the poll never keeps an idle console session alive.
 */
export function startAlertPoll() {
  const tick = async () => {
    if (!state.session || !state.me || state.me.role !== 'admin') return;
    if (!document.getElementById('alert-banner')) return;
    if (idleForMs() > POLL_MS) return;
    try {
      await refreshAlerts();
    } catch (e) {
      if (e instanceof ApiError && e.status === 401) fail(e);
      // Anything else: the banner stays as it was; the section shows the error.
    }
  };
  if (!polling) polling = setInterval(tick, POLL_MS);
}

function untilText(g) {
  const ended = g.expires_at_ms <= Date.now();
  return `${when(g.expires_at_ms)}${ended ? ' (ended)' : ''}`;
}

/** Draws the section into `body`. */
export async function render(body) {
  await Promise.all([loadPeople(), refreshAlerts()]);
  if (state.alerts.length && state.clients.size === 0) await loadClientNames();
  drawBanner();
  const acknowledged = (g) => {
    if (!open(g)) return `Acknowledged by ${userName(g.acknowledged_by)}, ${when(g.acknowledged_at_ms)}`;
    const label = `Acknowledge break-glass by ${g.display_name} for ${clientName(g.client_id)}`;
    const b = el('button', { type: 'button', 'aria-label': label }, 'Acknowledge');
    b.addEventListener(
      'click',
      busy(b, async () => {
        await state.api.post(`/break-glass/${encodeURIComponent(g.grant_id)}/acknowledge`);
        say(`Acknowledged: ${g.display_name}'s emergency access to ${clientName(g.client_id)}.`);
        await showSection(id);
      }),
    );
    return b;
  };
  const pending = state.alerts.filter(open).length;
  fill(
    body,
    el(
      'p',
      {},
      pending
        ? `${pending} alert(s) to acknowledge. Acknowledging records that an admin reviewed the reason; it does not end the access, which ends by itself at the time shown.`
        : 'No alerts to acknowledge.',
    ),
    table(
      'Break-glass grants',
      [
        { label: 'Who', value: (g) => g.display_name },
        { label: 'Client', value: (g) => clientName(g.client_id) },
        { label: 'Reason', value: (g) => el('span', { class: 'content' }, g.reason) },
        { label: 'When', value: (g) => when(g.granted_at_ms) },
        { label: 'Until', value: untilText },
        { label: 'Device', value: (g) => (g.device_id ? deviceName(g.device_id) : '—') },
        { label: 'Status', value: (g) => el('span', { class: `badge ${open(g) ? 'pending' : 'active'}` }, open(g) ? 'unacknowledged' : 'acknowledged') },
        { label: 'Acknowledgement', value: acknowledged },
      ],
      state.alerts,
      'No break-glass access so far.',
    ),
  );
}
