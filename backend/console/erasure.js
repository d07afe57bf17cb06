// Ward admin console: the Erasure section (GDPR Art. 17). Pick a client (names decrypted in this
// browser), type why, confirm with a passkey: every stored copy is deleted and every device drops
// the client at its next sync. Inside the clinic's retention period the server asks for a second,
// override reason. Below, the clinic's erasure ledger: who was erased, when and by whom — never
// what.

import { ApiError } from './api.js';
import { busy, say, withStepUp } from './actions.js';
import { clientLabel, loadClientNames, loadPeople, userName } from './names.js';
import { state } from './state.js';
import { confirmDialog, el, field, fill, table, when } from './ui.js';

export const id = 'erasure';
export const title = 'Erasure';

function ledgerTable(ledger) {
  return table(
    'Erasure ledger',
    [
      { label: 'Client', value: (e) => `erased client ${String(e.client_id).slice(0, 8)}` },
      { label: 'Erased by', value: (e) => userName(e.erased_by) },
      { label: 'When', value: (e) => when(e.started_at_ms) },
      { label: 'Status', value: (e) => (e.status === 'complete' ? 'complete' : 'incomplete — erase again to finish') },
      { label: 'Retention hold', value: (e) => (e.hold_overridden ? 'overridden' : '—') },
      { label: 'Deleted', value: (e) => `${e.versions} versions, ${e.blobs} photo copies, ${e.keys} keys` },
    ],
    ledger,
    'No client has been erased.',
  );
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  // Always fresh: a client registered on a phone a minute ago must be offered.
  await loadClientNames();
  const ledger = await state.api.get('/erasures');
  const erased = new Set(ledger.filter((e) => e.status === 'complete').map((e) => e.client_id));
  const ids = state.clientIds
    .filter((c) => !erased.has(c))
    .sort((a, b) => clientLabel(a).localeCompare(clientLabel(b)));
  const client = field('Client to erase', 'erase-client', {
    tag: 'select',
    options: ids.length ? ids.map((c) => [c, clientLabel(c)]) : [['', 'No clients']],
  });
  const reason = field('Why this client is erased', 'erase-reason', {
    autocomplete: 'off',
    required: true,
    minlength: 10,
    hint: 'At least 10 characters, e.g. "patient asked to be forgotten (letter of 2 Dec)". Kept in the audit log.',
  });
  const override = field('Why the retention period is overridden (only if asked)', 'erase-override', {
    autocomplete: 'off',
    hint: "Needed only when the client's records are younger than the clinic's retention period.",
  });
  const go = el('button', { type: 'submit', class: 'danger' }, 'Erase client');
  const form = el(
    'form',
    { 'aria-labelledby': 'erase-h' },
    client.wrap, reason.wrap, override.wrap, go,
  );
  form.addEventListener(
    'submit',
    busy(go, async () => {
      const who = client.input.value;
      if (!who) throw new Error('Choose a client.');
      const name = clientLabel(who);
      const ok = await confirmDialog(
        `Erase ${name}?`,
        `Every note, photo and consent of ${name} is deleted from the server, its backups' restores and every device at its next sync. This cannot be undone.`,
        'Erase',
      );
      if (!ok) return;
      const req = { reason: reason.input.value.trim() };
      const o = override.input.value.trim();
      if (o) req.hold_override_reason = o;
      try {
        const e = await withStepUp(() => state.api.post(`/clients/${who}/erase`, req));
        say(`${name} was erased: ${e.versions} versions and ${e.blobs} photo copies deleted.`);
        await render(body);
      } catch (err) {
        if (err instanceof ApiError && err.code === 'retention_hold') {
          override.input.focus();
          throw new Error(`${err.message}. Type why the hold is overridden, then erase again.`);
        }
        throw err;
      }
    }),
  );
  fill(
    body,
    el('h3', { id: 'erase-h' }, 'Erase a client (right to be forgotten)'),
    form,
    el('h4', {}, 'Erasure ledger'),
    ledgerTable(ledger),
  );
}
