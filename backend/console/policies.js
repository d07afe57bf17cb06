// Ward admin console: the Policies section. Idle lock, offline lease and its warning, photo
// consent, the EXIF keep-list and rescue on wipe; saving asks for a passkey step-up.

import { ApiError } from './api.js';
import { busy, say, withStepUp } from './actions.js';
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
  for (const f of [consent, rescue]) f.wrap.classList.add('check');
  const save = el('button', { type: 'submit' }, 'Save policies');
  const form = el('form', { 'aria-labelledby': 'policy-h' }, idle.wrap, lease.wrap, warn.wrap, consent.wrap, exif.wrap, rescue.wrap, save);
  form.addEventListener(
    'submit',
    busy(save, async () => {
      const next = {
        idle_lock_seconds: Number(idle.input.value),
        offline_lease_hours: Number(lease.input.value),
        lease_warning_hours: Number(warn.input.value),
        photo_consent_required: consent.input.checked,
        exif_keep: exif.input.value.split(',').map((s) => s.trim()).filter(Boolean),
        rescue_on_wipe: rescue.input.checked,
      };
      await withStepUp(() => state.api.put('/policy', next));
      say('Policies saved. Devices apply them at their next sync.');
    }),
  );
  fill(body, el('h3', { id: 'policy-h' }, 'Clinic policies'), form);
}
