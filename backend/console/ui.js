// Ward admin console: small DOM helpers. Everything is built with createElement and
// textContent (never innerHTML), so no server or decrypted string can become markup.

/** An element: el('button', {type: 'button', class: 'x', onclick: fn}, 'text', child, …). */
export function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on') && typeof v === 'function') e.addEventListener(k.slice(2), v);
    else if (k === 'class') e.className = v;
    else if (v === true) e.setAttribute(k, '');
    else e.setAttribute(k, String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

/** Replaces the children of `node`. */
export function fill(node, ...children) {
  node.replaceChildren();
  for (const c of children.flat()) {
    if (c !== undefined && c !== null && c !== false) node.append(c instanceof Node ? c : String(c));
  }
}

/** Shows a status message in the page's live region (`kind`: info | ok | error). */
export function announce(text, kind = 'info') {
  const live = document.getElementById('status');
  live.className = `status ${kind}`;
  live.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  live.textContent = text;
}

/** A date-time for people (local time), or an em dash. */
export function when(ms) {
  if (ms === null || ms === undefined) return '—';
  const d = new Date(Number(ms));
  return Number.isNaN(d.getTime()) ? String(ms) : d.toLocaleString();
}

/**
 * A table with a caption and header row. `columns`: [{label, value: row => text | Node}].
 * An empty list shows `empty` instead.
 */
export function table(caption, columns, rows, empty = 'Nothing to show.') {
  if (!rows || rows.length === 0) return el('p', { class: 'empty' }, empty);
  return el(
    'table',
    {},
    el('caption', {}, caption),
    el('thead', {}, el('tr', {}, columns.map((c) => el('th', { scope: 'col' }, c.label)))),
    el(
      'tbody',
      {},
      rows.map((r) => el('tr', {}, columns.map((c) => el('td', {}, c.value(r))))),
    ),
  );
}

/**
 * A labelled form field; returns {wrap, input}. `opts`: tag (input | select | textarea),
 * options ([value, text] pairs for a select), hint (described-by text), and attributes.
 */
export function field(label, id, opts = {}) {
  const { tag = 'input', options = [], hint, ...attrs } = opts;
  const input = el(tag, { id, name: id, ...attrs });
  for (const [value, text] of options) input.append(el('option', { value }, text));
  const wrap = el('div', { class: 'field' }, el('label', { for: id }, label), input);
  if (hint) {
    input.setAttribute('aria-describedby', `${id}-hint`);
    wrap.append(el('p', { class: 'hint', id: `${id}-hint` }, hint));
  }
  return { wrap, input };
}

/**
 * Asks a yes/no question in the page's modal dialog; resolves true when confirmed. Focus
 * moves into the dialog and back; Escape cancels.
 */
export function confirmDialog(title, text, confirmLabel) {
  const dialog = document.getElementById('confirm');
  document.getElementById('confirm-title').textContent = title;
  document.getElementById('confirm-text').textContent = text;
  const ok = document.getElementById('confirm-ok');
  ok.textContent = confirmLabel;
  document.getElementById('confirm-cancel').onclick = () => dialog.close('cancel');
  ok.onclick = () => dialog.close('ok');
  const opener = document.activeElement;
  return new Promise((resolve) => {
    dialog.addEventListener(
      'close',
      () => {
        resolve(dialog.returnValue === 'ok');
        if (opener && opener.focus) opener.focus();
      },
      { once: true },
    );
    dialog.returnValue = '';
    dialog.showModal();
    document.getElementById('confirm-cancel').focus();
  });
}

/** Offers `text` as a file download. */
export function download(name, text, type) {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = el('a', { href: url, download: name });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
