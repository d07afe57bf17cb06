// Ward admin console: the Policies section. Idle lock, offline lease and its warning, photo
// consent, the EXIF keep-list, rescue on wipe, the console's idle and session limits,
// break-glass duration, who manages care teams and the records' retention period; saving asks for a passkey step-up.

import { ApiError } from './api.js';
import { busy, say, withStepUp } from './actions.js';
import { setIdleMinutes } from './idle.js';
import { state } from './state.js';
import { el, field, fill } from './ui.js';

export const id = 'policy';
export const title = 'Policies';

/** Draws the section into `body`. */
export async function render(body) {
  let p;
  try {
    p = await state.api.get('/policy');
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 404) throw e;
    // A server without the policy endpoint: show what /me reports, or the original error.
    p = (await state.api.get('/me')).policy;
    if (!p) throw e;
  }
  const idle = field('Idle lock after (seconds)', 'policy-idle', {
    type: 'number', min: 30, max: 3600, required: true, value: p.idle_lock_seconds,
    hint: 'The app locks after this much inactivity (30–3600).',
  });
  const lease = field('Offline lease (hours)', 'policy-lease', {
    type: 'number', min: 24, max: 2160, required: true, value: p.offline_lease_hours,
    hint: 'A device that has not reached the server for this long wipes itself at its next start (24–2160).',
  });
  const warn = field('Warn before the lease ends (hours)', 'policy-warn', {
    type: 'number', min: 1, required: true, value: p.lease_warning_hours,
    hint: 'Users are warned this long before their device would wipe itself.',
  });
  const consent = field('Photos need a recorded consent', 'policy-consent', { type: 'checkbox', checked: !!p.photo_consent_required });
  const exif = field('EXIF tags kept on photos', 'policy-exif', {
    value: (p.exif_keep || []).join(', '),
    autocomplete: 'off',
    hint: 'Comma-separated tag names, e.g. Orientation. Everything else (GPS included) is stripped.',
  });
  const rescue = field('Rescue unsynced work before a wipe', 'policy-rescue', { type: 'checkbox', checked: !!p.rescue_on_wipe });
  const consoleIdle = field('Console signs out after idle (minutes)', 'policy-console-idle', {
    type: 'number', min: 1, max: 240, required: true, value: p.console_idle_minutes ?? 15,
    hint: 'A console without activity signs out after this long; the server ends its session too (1–240).',
  });
  const consoleHours = field('Console session lasts at most (hours)', 'policy-console-hours', {
    type: 'number', min: 1, max: 24, required: true, value: p.console_session_hours ?? 12,
    hint: 'After this long a console signs in again, however active (1–24).',
  });
  const glass = field('Break-glass access lasts (minutes)', 'policy-break-glass', {
    type: 'number', min: 0, max: 1440, required: true, value: p.break_glass_minutes ?? 60,
    hint: 'Emergency access to a client outside the care team, with a typed reason; 0 switches break-glass off (0–1440).',
  });
  const manage = field('Clinicians on a care team may change its members', 'policy-team-manage', {
    type: 'checkbox', checked: !!p.team_members_manage,
    hint: 'Otherwise only admins and front desk add, remove and hand over.',
  });
  const retention = field('Keep clinical records for (years after the last entry)', 'policy-retention', {
    type: 'number', min: 0, max: 30, required: true, value: p.records_retention_years ?? 0,
    hint: 'Your legal retention period. Erasing a client whose records are younger needs a second, override reason (0–30; 0: none).',
  });
  for (const f of [consent, rescue, manage]) f.wrap.classList.add('check');
  const save = el('button', { type: 'submit' }, 'Save policies');
  const form = el(
    'form',
    { 'aria-labelledby': 'policy-h' },
    el('h4', {}, 'Phones'),
    idle.wrap, lease.wrap, warn.wrap, consent.wrap, exif.wrap, rescue.wrap,
    el('h4', {}, 'Console'),
    consoleIdle.wrap, consoleHours.wrap,
    el('h4', {}, 'Care teams and emergency access'),
    glass.wrap, manage.wrap,
    el('h4', {}, 'Patients’ rights'),
    retention.wrap,
    save,
  );
  form.addEventListener(
    'submit',
    busy(save, async () => {
      const next = {
        // Fields this form does not know (a newer server) are sent back unchanged.
        ...p,
        idle_lock_seconds: Number(idle.input.value),
        offline_lease_hours: Number(lease.input.value),
        lease_warning_hours: Number(warn.input.value),
        photo_consent_required: consent.input.checked,
        exif_keep: exif.input.value.split(',').map((s) => s.trim()).filter(Boolean),
        rescue_on_wipe: rescue.input.checked,
        console_idle_minutes: Number(consoleIdle.input.value),
        console_session_hours: Number(consoleHours.input.value),
        break_glass_minutes: Number(glass.input.value),
        team_members_manage: manage.input.checked,
        records_retention_years: Number(retention.input.value),
      };
      const saved = await withStepUp(() => state.api.put('/policy', next));
      state.policy = saved && typeof saved === 'object' ? saved : next;
      setIdleMinutes(state.policy.console_idle_minutes);
      say('Policies saved. Devices apply them at their next sync.');
    }),
  );
  fill(body, el('h3', { id: 'policy-h' }, 'Clinic policies'), form);
}
