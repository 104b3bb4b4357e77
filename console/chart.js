// Hand-written SVG charts: a line chart over time and a ranked bar list, each with a text alternative.
import { h, fmt } from './ui.js';

const W = 400; /* viewBox width: about what a chart gets on a page, so its text stays readable */
let chartSeq = 0;

/** Format a value in a unit: 'ms' and 'us' (durations), 'usd' (micro-dollars), '%', 'bytes', or a suffix. */
export function formatValue(v, unit) {
  if (v === null || v === undefined || isNaN(v)) return '—';
  switch (unit) {
    case 'ms': return fmt.ms(v);
    case 'us': return fmt.ms(v, { us: true });
    case 'usd': return fmt.usd(v);
    case 'bytes': return fmt.bytes(v);
    case '%': return `${Number(v).toFixed(Number(v) < 10 ? 2 : 1)}%`;
    case undefined: case null: case '': return fmt.num(v);
    default: return `${fmt.num(v)} ${unit}`;
  }
}

function xValue(x) { return x instanceof Date ? x.getTime() : Number(x); }

function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  const m = v / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}

function timeLabel(ms, span) {
  const d = new Date(ms);
  if (span > 2 * 86400000) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

function fallbackTable(series, unit, caption) {
  const xs = [...new Set(series.flatMap(s => s.points.map(p => xValue(p[0]))))].sort((a, b) => a - b);
  const byX = series.map(s => new Map(s.points.map(p => [xValue(p[0]), p[1]])));
  return h('table', null,
    h('caption', null, caption),
    h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'Time'), series.map(s => h('th', { scope: 'col' }, s.name)))),
    h('tbody', null, xs.map(x => h('tr', null, h('th', { scope: 'row' }, fmt.time(x)),
      byX.map(m => h('td', null, formatValue(m.get(x), unit)))))));
}

/**
 * A line chart. series: [{name, points: [[x, y], ...]}] with x a Date or Unix milliseconds and
 * y a number; opts: {unit (see formatValue), height (px, default 180), title, from, to (x range)}.
 * Returns a <figure> with the SVG (role img, aria-label summarising it) and a screen-reader table.
 */
export function lineChart(series, opts = {}) {
  const H = opts.height || 180;
  const pad = { l: 58, r: 10, t: 10, b: 24 };
  const unit = opts.unit;
  const all = series.flatMap(s => s.points);
  const title = opts.title || series.map(s => s.name).join(', ');
  const fig = h('figure', { class: 'chart' });
  if (all.length === 0) {
    fig.append(h('p', { class: 'empty' }, `No data for ${title} in this range.`));
    return fig;
  }
  const xs = all.map(p => xValue(p[0]));
  const x0 = opts.from !== undefined ? xValue(opts.from) : Math.min(...xs);
  let x1 = opts.to !== undefined ? xValue(opts.to) : Math.max(...xs);
  if (x1 <= x0) x1 = x0 + 1;
  const ymax = niceMax(Math.max(0, ...all.map(p => Number(p[1]) || 0)));
  const sx = x => pad.l + (xValue(x) - x0) / (x1 - x0) * (W - pad.l - pad.r);
  const sy = y => H - pad.b - (Number(y) || 0) / ymax * (H - pad.t - pad.b);
  const id = `chart${++chartSeq}`;
  const last = series.map(s => `${s.name} ${formatValue(s.points.length ? s.points[s.points.length - 1][1] : null, unit)}`).join('; ');
  const svg = h('svg:svg', {
    viewBox: `0 0 ${W} ${H}`, role: 'img', class: 'chart-svg', preserveAspectRatio: 'none',
    'aria-label': `${title}: line chart from ${fmt.time(x0)} to ${fmt.time(x1)}, maximum axis ${formatValue(ymax, unit)}; latest ${last}`,
    'aria-describedby': id + '-t',
  });
  for (let i = 0; i <= 4; i++) {
    const y = ymax * i / 4;
    svg.append(h('svg:line', { x1: pad.l, x2: W - pad.r, y1: sy(y), y2: sy(y), class: 'grid-line' }));
    svg.append(h('svg:text', { x: pad.l - 6, y: sy(y) + 4, 'text-anchor': 'end', class: 'axis' }, formatValue(y, unit)));
  }
  for (let i = 0; i <= 3; i++) {
    const x = x0 + (x1 - x0) * i / 3;
    svg.append(h('svg:text', { x: sx(x), y: H - 8, 'text-anchor': i === 0 ? 'start' : i === 3 ? 'end' : 'middle', class: 'axis' }, timeLabel(x, x1 - x0)));
  }
  series.forEach((s, i) => {
    const pts = [...s.points].sort((a, b) => xValue(a[0]) - xValue(b[0]));
    if (pts.length === 1) {
      svg.append(h('svg:circle', { cx: sx(pts[0][0]), cy: sy(pts[0][1]), r: 3, class: `series s${i % 6}` }));
      return;
    }
    const d = pts.map((p, j) => `${j ? 'L' : 'M'}${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    svg.append(h('svg:path', { d, class: `series s${i % 6}`, fill: 'none' }));
  });
  fig.append(svg);
  if (series.length > 1) {
    fig.append(h('figcaption', { class: 'legend' }, series.map((s, i) => h('span', { class: `key k${i % 6}` }, s.name))));
  }
  const t = fallbackTable(series, unit, title);
  t.id = id + '-t';
  fig.append(h('div', { class: 'sr-only' }, t)); /* a table ignores width: 1px; its box does not */
  return fig;
}

/**
 * A ranked list of horizontal bars. items: [{label, value, href?}]; opts: {unit, max, empty}.
 * The values are text in the list; the bars are decoration.
 */
export function barList(items, opts = {}) {
  if (!items || items.length === 0) return h('p', { class: 'empty' }, opts.empty || 'Nothing in this range.');
  const max = opts.max || Math.max(...items.map(i => Number(i.value) || 0), 1);
  return h('ol', { class: 'bar-list' }, items.map(it => {
    const bar = h('span', { class: 'bar', 'aria-hidden': 'true' });
    bar.style.width = `${Math.max(0, Math.min(100, (Number(it.value) || 0) / max * 100))}%`;
    const name = it.href ? h('a', { href: it.href }, it.label) : it.label;
    return h('li', null, h('span', { class: 'bar-label' }, name), h('span', { class: 'bar-value' }, formatValue(it.value, opts.unit)), bar);
  }));
}
