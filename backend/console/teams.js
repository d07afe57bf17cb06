// Ward admin console: the Care teams section, and a clinician's caseload for the People
// section. A client's care team decides which clinicians' devices hold the client's records:
// pick a client (names decrypted in this browser where possible), see its members and any
// emergency (break-glass) access, add or remove a clinician, or hand the client over from one
// clinician to another in one step. Each change may carry a reason for the audit log.

import { busy, say } from './actions.js';
import { clientLabel, clientName, loadClientNames, loadPeople, userName } from './names.js';
import { showSection, state } from './state.js';
import { confirmDialog, el, field, fill, table, when } from './ui.js';

export const id = 'teams';
export const title = 'Care teams';

let selected = null; // the client the section shows (kept while the page lives)

/** Opens the Care teams section on `client`. */
export function openTeam(client) {
  selected = client;
  return showSection(id);
}

const activeClinicians = () =>
  [...state.users.values()].filter((u) => u.role === 'clinician' && !u.deactivated_at_ms);

/** The request body with the optional reason (left out when empty). */
function withReason(body, reason) {
  const r = reason.input.value.trim();
  return r ? { ...body, reason: r } : body;
}

function teamPanel(panel, team) {
  const client = clientName(team.client_id);
  const path = `/clients/${team.client_id}/team`;
  const memberIds = new Set(team.members.map((m) => m.user_id));
  const outside = activeClinicians().filter((u) => !memberIds.has(u.user_id));
  const reason = field('Reason for this change (optional)', 'team-reason', {
    autocomplete: 'off',
    hint: 'Kept in the audit log with an add, a removal or a hand-over.',
  });
  const apply = async (verb, body, done) => {
    const next = await state.api.post(`${path}/${verb}`, withReason(body, reason));
    teamPanel(panel, next);
    say(done);
    document.getElementById('team-h')?.focus();
  };
  const remove = (m) => {
    const b = el('button', { type: 'button', class: 'danger', 'aria-label': `Remove ${m.display_name} from the care team` }, 'Remove');
    b.addEventListener(
      'click',
      busy(b, async () => {
        const ok = await confirmDialog(
          `Remove ${m.display_name} from ${client}'s care team?`,
          `Their devices drop ${client}'s records at their next sync.`,
          'Remove',
        );
        if (ok) await apply('remove', { user_id: m.user_id }, `${m.display_name} left ${client}'s care team.`);
      }),
    );
    return b;
  };
  const none = [['', 'No active clinician outside the team']];
  const options = (list) => (list.length ? list.map((u) => [u.user_id, u.display_name]) : none);
  const add = field('Clinician to add', 'team-add', { tag: 'select', options: options(outside) });
  const addButton = el('button', { type: 'submit' }, 'Add to team');
  const addForm = el('form', { class: 'inline', 'aria-label': 'Add a clinician' }, add.wrap, addButton);
  addForm.addEventListener(
    'submit',
    busy(addButton, async () => {
      if (!add.input.value) throw new Error('Choose a clinician to add.');
      const who = userName(add.input.value);
      await apply('add', { user_id: add.input.value }, `${who} joined ${client}'s care team.`);
    }),
  );
  const clinicianMembers = team.members.filter((m) => m.role === 'clinician');
  const from = field('Hand over from', 'team-from', {
    tag: 'select',
    options: clinicianMembers.length ? clinicianMembers.map((m) => [m.user_id, m.display_name]) : [['', 'No clinician on the team']],
  });
  const to = field('Hand over to', 'team-to', { tag: 'select', options: options(outside) });
  const handButton = el('button', { type: 'submit' }, 'Hand over');
  const handForm = el('form', { class: 'inline', 'aria-label': 'Hand the client over' }, from.wrap, to.wrap, handButton);
  handForm.addEventListener(
    'submit',
    busy(handButton, async () => {
      if (!from.input.value || !to.input.value) throw new Error('Choose who hands over and who takes over.');
      const [a, b] = [userName(from.input.value), userName(to.input.value)];
      await apply(
        'handover',
        { from_user_id: from.input.value, to_user_id: to.input.value },
        `${client} handed over from ${a} to ${b}.`,
      );
    }),
  );
  fill(
    panel,
    el('h3', { id: 'team-h', tabindex: '-1' }, `Care team of ${client}`),
    table(
      `Members of ${client}'s care team`,
      [
        { label: 'Name', value: (m) => m.display_name },
        { label: 'Role', value: (m) => m.role.replace('_', ' ') },
        { label: 'Actions', value: remove },
      ],
      team.members,
      `Nobody is on ${client}'s care team.`,
    ),
    el('h4', {}, 'Emergency access'),
    table(
      `Break-glass access to ${client}`,
      [
        { label: 'Who', value: (g) => g.display_name },
        { label: 'Reason', value: (g) => el('span', { class: 'content' }, g.reason) },
        { label: 'Since', value: (g) => when(g.granted_at_ms) },
        { label: 'Until', value: (g) => when(g.expires_at_ms) },
        { label: 'Acknowledged', value: (g) => (g.acknowledged_at_ms ? `by ${userName(g.acknowledged_by)}` : 'not yet') },
      ],
      team.break_glass || [],
      'No active break-glass access.',
    ),
    el('h4', {}, 'Change the team'),
    reason.wrap,
    addForm,
    handForm,
  );
}

/** Draws the section into `body`. */
export async function render(body) {
  await loadPeople();
  if (state.clientIds.length === 0) await loadClientNames();
  const ids = [...state.clientIds].sort((a, b) => clientLabel(a).localeCompare(clientLabel(b)));
  if (ids.length === 0) {
    fill(body, el('p', { class: 'empty' }, 'No clients yet.'));
    return;
  }
  if (!ids.includes(selected)) selected = ids[0];
  const client = field('Client', 'team-client', { tag: 'select', options: ids.map((c) => [c, clientLabel(c)]) });
  client.input.value = selected;
  const show = el('button', { type: 'submit' }, 'Show team');
  const panel = el('div', { id: 'team-panel' });
  const load = async () => {
    selected = client.input.value;
    teamPanel(panel, await state.api.get(`/clients/${selected}/team`));
  };
  const form = el('form', { class: 'inline', 'aria-label': 'Choose a client' }, client.wrap, show);
  form.addEventListener('submit', busy(show, load));
  client.input.addEventListener('change', busy(null, load));
  fill(body, form, panel);
  await load();
}

/** A clinician's caseload (`GET /users/{user}/caseload`) as a table, client names decrypted. */
export async function caseloadView(person) {
  const list = await state.api.get(`/users/${person.user_id}/caseload`);
  if (list.length && state.clients.size === 0) await loadClientNames();
  const open = (c) => {
    const b = el('button', { type: 'button', class: 'secondary', 'aria-label': `Care team of ${clientName(c.client_id)}` }, 'Care team');
    b.addEventListener('click', () => openTeam(c.client_id));
    return b;
  };
  return table(
    `Caseload of ${person.display_name}`,
    [
      { label: 'Client', value: (c) => clientName(c.client_id) },
      { label: 'Access', value: (c) => (c.via === 'break_glass' ? 'break-glass (emergency)' : 'care team') },
      { label: 'Until', value: (c) => (c.expires_at_ms ? when(c.expires_at_ms) : '—') },
      { label: 'Actions', value: open },
    ],
    list,
    `${person.display_name} has no clients.`,
  );
}
