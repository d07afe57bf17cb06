// Ward admin console: the Quarantine section. What revoked devices rescued before their wipe,
// decrypted in this browser, each version to accept or reject.

import { busy, say, withStepUp } from './actions.js';
import { clientName, deviceName, loadClientNames, loadPeople, openWithKeys } from './names.js';
import { showSection, state } from './state.js';
import { el, fill, table, when } from './ui.js';
import { KIND } from './wcrypto.js';

export const id = 'quarantine';
export const title = 'Quarantine';

function noteText(rec) {
  const b = rec && rec.body;
  if (!b) return '';
  if (b.type === 'text') return b.text;
  if (b.type === 'soap') return `S: ${b.subjective}\nO: ${b.objective}\nA: ${b.assessment}\nP: ${b.plan}`;
  return '';
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  const items = await state.api.get('/quarantine');
  if (items.some((i) => i.client_id) && state.clients.size === 0) await loadClientNames();
  const kindName = Object.fromEntries(Object.entries(KIND).map(([k, v]) => [v, k.replace('_', ' ')]));
  const content = new Map();
  for (const i of items) {
    if (i.kind !== KIND.note && i.kind !== KIND.client) continue;
    try {
      const rec = await openWithKeys(
        { tenant: state.device.tenant, object: i.object_id, version: i.version_id, kind: i.kind, client: i.client_id },
        i.envelope,
      );
      content.set(i.version_id, i.kind === KIND.note ? noteText(rec) : rec.display_name);
    } catch (e) {
      content.set(i.version_id, `(cannot decrypt: ${e.message})`);
    }
  }
  const decide = (i, verb) => {
    const label = `${verb === 'accept' ? 'Accept' : 'Reject'} ${kindName[i.kind] || 'record'} for ${clientName(i.client_id)} from ${deviceName(i.device_id)}`;
    const b = el('button', { type: 'button', class: verb === 'reject' ? 'danger' : '', 'aria-label': label }, verb === 'accept' ? 'Accept' : 'Reject');
    b.addEventListener(
      'click',
      busy(b, async () => {
        const call = () => state.api.post(`/quarantine/${i.version_id}/${verb}`);
        // Rejecting loses the rescued version to the record: confirmed with the passkey.
        await (verb === 'reject' ? withStepUp(call) : call());
        say(`${verb === 'accept' ? 'Accepted' : 'Rejected'}: ${kindName[i.kind] || 'record'} for ${clientName(i.client_id)}.`);
        await showSection(id);
      }),
    );
    return b;
  };
  fill(
    body,
    el(
      'p',
      {},
      'Records a revoked device had not synced, uploaded before its wipe. Accept to add them to the record, reject to discard them (rejecting asks for your passkey). Their content is decrypted in this browser.',
    ),
    el(
      'p',
      { class: 'note' },
      "What accepting grants: the version joins the client's record and reaches every device allowed to read it. It gives nobody new access, with one exception: accepting a client that was created on the lost phone (and exists nowhere else) makes the phone's user a member of that client's care team, as a normal sync would have.",
    ),
    table(
      'Quarantined records',
      [
        { label: 'Client', value: (i) => clientName(i.client_id) },
        { label: 'Kind', value: (i) => kindName[i.kind] || String(i.kind) },
        { label: 'Content', value: (i) => el('span', { class: 'content' }, content.get(i.version_id) ?? '(not shown)') },
        { label: 'From device', value: (i) => deviceName(i.device_id) },
        { label: 'Received', value: (i) => when(i.received_at_ms) },
        { label: 'Status', value: (i) => el('span', { class: `badge ${i.status}` }, i.status) },
        {
          label: 'Decision',
          value: (i) =>
            i.status === 'pending'
              ? el('div', { class: 'actions' }, decide(i, 'accept'), decide(i, 'reject'))
              : `${i.status} ${when(i.decided_at_ms)}`,
        },
      ],
      items,
      'Nothing in quarantine.',
    ),
  );
}
