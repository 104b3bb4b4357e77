// Small DOM helpers every page uses: elements, tables, forms with field errors, dialogs, toasts, formats.

const SVG_NS = 'http://www.w3.org/2000/svg';
const BOOL_ATTRS = new Set(['disabled', 'required', 'checked', 'selected', 'hidden', 'readonly', 'multiple', 'open']);

function append(el, child) {
  if (child === null || child === undefined || child === false || child === true) return;
  if (Array.isArray(child)) { child.forEach(c => append(el, c)); return; }
  el.append(child instanceof Node ? child : document.createTextNode(String(child)));
}

function setAttrs(el, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'for') {
      el.setAttribute('for', v);
    } else if (k === 'value' && 'value' in el && !(el instanceof SVGElement)) {
      el.value = v;
    } else if (k === 'style') {
      // Inline style attributes are refused by the CSP; accept an object and set properties.
      if (typeof v === 'object') Object.assign(el.style, v);
    } else if (BOOL_ATTRS.has(k)) {
      if (v) el.setAttribute(k, '');
      if (k in el && !(el instanceof SVGElement)) el[k] = true;
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

/**
 * Make an element. attrs: class, for, type, value, aria-*, data-*, any other attribute, and
 * on: {event: fn}. Children: nodes, strings, numbers or arrays of them; null/false are skipped.
 * Tags 'svg:...' make SVG elements (h('svg:rect', {...})).
 */
export function h(tag, attrs, ...children) {
  let el;
  if (tag.startsWith('svg:')) el = document.createElementNS(SVG_NS, tag.slice(4));
  else el = document.createElement(tag);
  if (attrs && (attrs instanceof Node || typeof attrs !== 'object' || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/** Replace the children of an element. */
export function clear(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

/**
 * A table. columns: [{label, value: row => node|string, class}]; rows: array. opts.empty: what to
 * show when there are no rows; opts.caption: a caption (visually hidden unless opts.showCaption).
 */
export function table(columns, rows, opts = {}) {
  if (!rows || rows.length === 0) return h('p', { class: 'empty' }, opts.empty ?? 'Nothing here yet.');
  const head = h('tr', null, columns.map(c => h('th', { scope: 'col', class: c.class }, c.label)));
  const body = rows.map(r => h('tr', null, columns.map(c => {
    let v;
    try { v = c.value(r); } catch { v = ''; }
    return h('td', { class: c.class, 'data-label': c.label }, v ?? '');
  })));
  return h('div', { class: 'table-wrap' },
    h('table', { class: 'grid' },
      opts.caption ? h('caption', { class: opts.showCaption ? null : 'sr-only' }, opts.caption) : null,
      h('thead', null, head), h('tbody', null, body)));
}

let fieldSeq = 0;

function fieldControl(f, id) {
  const common = { id, name: f.name, required: !!f.required, 'aria-describedby': id + '-err' };
  if (f.type === 'select') {
    const opts = (f.options || []).map(o => {
      const value = typeof o === 'object' ? o.value : o;
      const label = typeof o === 'object' ? (o.label ?? o.value) : o;
      return h('option', { value, selected: String(f.value ?? '') === String(value) }, label);
    });
    return h('select', common, opts);
  }
  if (f.type === 'textarea') return h('textarea', { ...common, rows: f.rows || 4 }, f.value ?? '');
  if (f.type === 'checkbox') return h('input', { ...common, type: 'checkbox', checked: !!f.value });
  return h('input', {
    ...common, type: f.type || 'text', value: f.value ?? '',
    placeholder: f.placeholder, autocomplete: f.autocomplete, min: f.min, max: f.max, step: f.step,
  });
}

function fieldValue(f, el) {
  if (f.type === 'checkbox') return el.checked;
  const raw = el.value;
  if (raw === '') return undefined;
  if (f.type === 'number') return Number(raw);
  return raw;
}

/**
 * A form. fields: [{name, label, type (text, password, number, select, textarea, checkbox, ...),
 * options, required, value, placeholder, autocomplete, hint}]. onSubmit(values, form) may be async;
 * values leave out empty fields. An ApiError whose `field` names a field shows its message next
 * to that field; any other error shows at the top. opts.submit: the button's label.
 */
export function form(fields, onSubmit, opts = {}) {
  const top = h('p', { class: 'form-error', role: 'alert', hidden: true });
  const rows = [];
  const controls = {};
  const errors = {};
  for (const f of fields) {
    const id = `f${++fieldSeq}-${f.name}`;
    const control = fieldControl(f, id);
    const err = h('span', { class: 'field-error', id: id + '-err', role: 'alert' });
    controls[f.name] = control;
    errors[f.name] = err;
    const label = h('label', { for: id }, f.label || f.name, f.required ? h('span', { class: 'req', 'aria-hidden': 'true' }, ' *') : null);
    rows.push(h('div', { class: f.type === 'checkbox' ? 'field field-check' : 'field' },
      f.type === 'checkbox' ? [control, label] : [label, control],
      f.hint ? h('small', { class: 'hint' }, f.hint) : null, err));
  }
  const button = h('button', { type: 'submit', class: 'primary' }, opts.submit || 'Save');
  const el = h('form', { class: 'form', novalidate: true }, top, rows, h('div', { class: 'actions' }, button, opts.extra || null));
  const reset = () => {
    top.hidden = true; top.textContent = '';
    for (const n of Object.keys(errors)) { errors[n].textContent = ''; controls[n].removeAttribute('aria-invalid'); }
  };
  el.addEventListener('submit', async ev => {
    ev.preventDefault();
    reset();
    const values = {};
    for (const f of fields) {
      const v = fieldValue(f, controls[f.name]);
      if (v !== undefined) values[f.name] = v;
      else if (f.required) {
        errors[f.name].textContent = 'Required.';
        controls[f.name].setAttribute('aria-invalid', 'true');
      }
    }
    const missing = fields.find(f => f.required && values[f.name] === undefined);
    if (missing) { controls[missing.name].focus(); return; }
    button.disabled = true;
    try {
      await onSubmit(values, el);
    } catch (e) {
      showError(e);
    } finally {
      button.disabled = false;
    }
  });
  function showError(e) {
    const msg = (e && e.message) || 'Something went wrong.';
    if (e && e.field && errors[e.field]) {
      errors[e.field].textContent = msg;
      controls[e.field].setAttribute('aria-invalid', 'true');
      controls[e.field].focus();
    } else {
      top.textContent = msg;
      top.hidden = false;
    }
  }
  el.controls = controls;
  el.showError = showError;
  return el;
}

/** A short message at the corner of the screen, read out by screen readers. */
export function toast(msg, opts = {}) {
  const box = document.getElementById('toasts') || document.body.appendChild(h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' }));
  const t = h('div', { class: opts.error ? 'toast error' : 'toast' }, msg);
  box.append(t);
  setTimeout(() => t.remove(), opts.ms || 4000);
  return t;
}

/** A modal dialog; content is a node; resolves with what close(value) passes. */
export function modal(title, content, opts = {}) {
  return new Promise(resolve => {
    const titleId = `dlg${++fieldSeq}`;
    const dlg = h('dialog', { class: 'dialog', 'aria-labelledby': titleId },
      h('h2', { id: titleId }, title), content);
    const close = value => { if (dlg.open) dlg.close(); dlg.remove(); resolve(value); };
    dlg.addEventListener('cancel', ev => { if (opts.noCancel) ev.preventDefault(); else { ev.preventDefault(); close(undefined); } });
    document.body.append(dlg);
    dlg.showModal();
    if (opts.onOpen) opts.onOpen(close, dlg);
  });
}

/** Ask yes or no; resolves to true when confirmed. */
export function confirmDialog(msg, opts = {}) {
  let closeFn;
  const yes = h('button', { type: 'button', class: opts.danger === false ? 'primary' : 'danger', on: { click: () => closeFn(true) } }, opts.yes || 'Confirm');
  const no = h('button', { type: 'button', on: { click: () => closeFn(false) } }, opts.no || 'Cancel');
  return modal(opts.title || 'Please confirm', h('div', null, h('p', null, msg), h('div', { class: 'actions' }, yes, no)), {
    onOpen: close => { closeFn = close; no.focus(); },
  }).then(v => v === true);
}

/** A button that copies text to the clipboard. */
export function copyButton(text, label = 'Copy') {
  const b = h('button', { type: 'button', class: 'copy', 'aria-label': `${label} to clipboard` }, label);
  b.addEventListener('click', async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const ta = h('textarea', { class: 'sr-only', readonly: true }, text);
      document.body.append(ta); ta.select();
      try { document.execCommand('copy'); } catch { /* nothing else to try */ }
      ta.remove();
    }
    b.textContent = 'Copied';
    setTimeout(() => { b.textContent = label; }, 1500);
  });
  return b;
}

/** A secret shown once: the value, a copy button and the warning that it will not be shown again. */
export function secretOnce(label, secret) {
  return h('div', { class: 'secret-once', role: 'group', 'aria-label': label },
    h('p', { class: 'secret-label' }, label),
    h('div', { class: 'secret-row' }, h('code', { class: 'secret' }, secret), copyButton(secret)),
    h('p', { class: 'warning' }, 'Copy it now: it will not be shown again.'));
}

function toDate(v) {
  if (v === null || v === undefined || v === '') return null;
  const d = v instanceof Date ? v : new Date(typeof v === 'number' && v < 1e11 ? v * 1000 : v);
  return isNaN(d.getTime()) ? null : d;
}

/** Formats used across pages; each takes what the API gives and returns a string. */
export const fmt = {
  time(v) {
    const d = toDate(v);
    if (!d) return '—';
    return d.toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  },
  ago(v) {
    const d = toDate(v);
    if (!d) return '—';
    const s = Math.round((Date.now() - d.getTime()) / 1000);
    const abs = Math.abs(s);
    const [n, unit] = abs < 60 ? [abs, 's'] : abs < 3600 ? [Math.round(abs / 60), 'min'] : abs < 86400 ? [Math.round(abs / 3600), 'h'] : [Math.round(abs / 86400), 'd'];
    return s >= 0 ? `${n} ${unit} ago` : `in ${n} ${unit}`;
  },
  num(v) {
    if (v === null || v === undefined || isNaN(v)) return '—';
    return Number(v).toLocaleString(undefined, { maximumFractionDigits: 2 });
  },
  usd(v, opts = {}) {
    // Amounts from the API are micro-dollars unless opts.dollars.
    if (v === null || v === undefined || isNaN(v)) return '—';
    const d = opts.dollars ? Number(v) : Number(v) / 1e6;
    const digits = Math.abs(d) > 0 && Math.abs(d) < 1 ? 4 : 2;
    return '$' + d.toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: digits });
  },
  bytes(v) {
    if (v === null || v === undefined || isNaN(v)) return '—';
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let n = Number(v), i = 0;
    while (Math.abs(n) >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return `${i ? n.toFixed(1) : n} ${units[i]}`;
  },
  ms(v, opts = {}) {
    // Milliseconds unless opts.us (the analytics give microseconds).
    if (v === null || v === undefined || isNaN(v)) return '—';
    const ms = opts.us ? Number(v) / 1000 : Number(v);
    if (ms < 1) return `${ms.toFixed(2)} ms`;
    if (ms < 1000) return `${Math.round(ms)} ms`;
    return `${(ms / 1000).toFixed(ms < 10000 ? 2 : 1)} s`;
  },
};
