import { WindowKind, type CloudWindow, type InvocationBar, type TimelineModel } from './model';

/**
 * Draws a {@link TimelineModel} as a Gantt-style SVG, by hand (no dependency): a summary bar of where the
 * time went, one bar per step invocation, the cloud's transitions beneath them, the ECS calls as ticks
 * (when the cloud's log is known), and the outcome. Every text from the cloud or the request (ids,
 * reasons, messages, waits) is escaped; characters XML cannot carry at all are replaced.
 *
 * The elements tests and tools look for carry data attributes: the root's data-x0 and data-px-per-ms give
 * the time axis, each `g.invocation` its data-start-ms and data-ms, `g.total` the outcome's duration.
 */

const Width = 1120;
const LabelRight = 196;
const X0 = 210;
const PlotWidth = 740;
const RowHeight = 34;
const BarHeight = 16;
/** About the advance of an 11 px character of the font: enough to keep labels apart. */
const CharWidth = 6;
const Font = 'DejaVu Sans, Helvetica, Arial, sans-serif';

const Colours = {
  text: '#1f2328',
  muted: '#656d76',
  grid: '#e6e8eb',
  next: '#4e79a7',
  wait: '#a0a7b0',
  succeeded: '#2f8f46',
  failed: '#d1403c',
  superseded: '#e08a1e',
  running: '#4e79a7',
  cloud: '#1b8a8a',
  cloudLate: '#a8dcdc',
  policy: '#e7a33a',
  policyLate: '#f5d7a6',
  overhead: '#8f98a3',
  refused: '#d1403c',
  call: '#57606a',
} as const;

const outcomeColour = (outcome: string): string => (Colours as Record<string, string>)[outcome] ?? Colours.next;

/** Renders the whole picture. */
export function renderTimelineSvg(m: TimelineModel): string {
  const axisMs = axisSpan(m.totalMs);
  const px = PlotWidth / axisMs.span;
  const x = (ms: number) => X0 + Math.max(0, ms) * px;
  const parts: string[] = [];
  let y = 0;

  parts.push(...header(m));
  y = 72;
  parts.push(...splitBar(m, y, px));
  y += 84;
  const axisY = y;
  y += 26;
  parts.push(sectionLabel('workflow: one bar per step invocation', y - 4));
  y += 6;
  const rows: string[] = [];
  // The first bar's dashed lead-in is the wake-up's queue hop and the function's start after the record was made.
  let previousEnd: number | undefined = m.droppedEntries > 0 ? undefined : 0;
  for (const bar of m.bars) {
    rows.push(...invocationRow(bar, y, x, previousEnd));
    previousEnd = bar.startMs + bar.ms;
    y += RowHeight;
  }
  if (m.bars.length === 0) {
    rows.push(text(X0, y + 12, 'no step invocation recorded yet', { fill: Colours.muted, size: 11 }));
    y += RowHeight;
  }
  y += 14;
  rows.push(sectionLabel("cloud: each transition from the request to the workflow seeing it done", y - 4));
  y += 6;
  for (const w of m.windows) {
    rows.push(...cloudRow(w, y, x, px));
    y += RowHeight;
  }
  if (m.windows.length === 0) {
    rows.push(text(X0, y + 12, 'no cloud transition recorded', { fill: Colours.muted, size: 11 }));
    y += RowHeight;
  }
  if (m.calls.length > 0) {
    rows.push(...callsRow(m, y, x));
    y += RowHeight;
  }
  const bottom = y;
  parts.push(...axis(axisMs, axisY, bottom, x));
  parts.push(...totalMarker(m, axisY, bottom, x));
  parts.push(...rows);
  y = bottom + 18;
  const notes = footer(m, y);
  parts.push(...notes.parts);
  const height = notes.y + 16;

  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${Width}" height="${height}" viewBox="0 0 ${Width} ${height}" font-family="${attr(Font)}"` +
      ` data-operation="${attr(m.operationId)}" data-total-ms="${m.totalMs}" data-x0="${X0}" data-px-per-ms="${px}">`,
    `<title>${esc(`${m.operationId}: ${m.outcome ? `${m.outcome.outcome} in ${duration(m.totalMs)}` : `running at ${m.at.step}`}`)}</title>`,
    `<rect x="0" y="0" width="${Width}" height="${height}" fill="#ffffff"/>`,
    ...parts,
    `</svg>`,
    '',
  ].join('\n');
}

// ---- pieces ------------------------------------------------------------------------------------------------

function header(m: TimelineModel): string[] {
  const r = m.request;
  const title = `bind ${r.eniId} → ${r.instanceId}${r.sourceInstanceId ? ` (from ${r.sourceInstanceId})` : ''}`;
  const verdict = m.outcome
    ? `${m.outcome.outcome.toUpperCase()}${m.outcome.reason ? ` (${m.outcome.reason})` : ''} in ${duration(m.totalMs)}`
    : `RUNNING at ${m.at.step}#${m.at.attempt}, ${duration(m.totalMs)} so far`;
  const sub = [
    `operation ${m.operationId}`,
    ...(m.group ? [`group ${m.group}`] : []),
    `${m.apiCalls} ECS API calls`,
    `${m.bars.length} step invocations`,
    `started ${new Date(m.startedAt).toISOString()}`,
    `origin ${r.origin.kind} ${r.origin.id}`,
  ].join('  ·  ');
  return [
    text(20, 32, title, { size: 19, weight: 'bold' }),
    `<g class="outcome" data-outcome="${attr(m.outcome?.outcome ?? 'running')}">${text(Width - 20, 32, verdict, { size: 19, weight: 'bold', anchor: 'end', fill: outcomeColour(m.outcome?.outcome ?? 'running') })}</g>`,
    text(20, 54, clip(sub, 180), { size: 12, fill: Colours.muted }),
  ];
}

/** The one-glance answer: the total as cloud + policy + overhead, drawn on the same scale as the bars. */
function splitBar(m: TimelineModel, y: number, px: number): string[] {
  const s = m.split;
  const parts = [sectionLabel('where the time went', y + 17)];
  const segments = [
    { name: 'cloud', ms: s.cloudMs, fill: Colours.cloud, label: s.basis === 'known' ? "the cloud's own transitions" : 'cloud transitions (as observed)' },
    { name: 'policy', ms: s.policyMs, fill: Colours.policy, label: 'policy wait (hang threshold, fence)' },
    { name: 'overhead', ms: Math.max(0, s.overheadMs), fill: Colours.overhead, label: 'workflow overhead' },
  ];
  // The cloud's part is drawn transition by transition, so the bar alone says what took the time.
  const pieces = [
    ...s.cloudParts.map((p) => ({ name: 'cloud', label: p.label, ms: p.ms, fill: Colours.cloud })),
    { name: 'policy', label: 'policy wait', ms: s.policyMs, fill: Colours.policy },
    { name: 'overhead', label: 'overhead', ms: Math.max(0, s.overheadMs), fill: Colours.overhead },
  ];
  let at = X0;
  parts.push(`<g class="split" data-cloud-ms="${round(s.cloudMs)}" data-policy-ms="${round(s.policyMs)}" data-overhead-ms="${round(s.overheadMs)}" data-basis="${s.basis}">`);
  for (const piece of pieces) {
    const w = piece.ms * px;
    if (w <= 0) continue;
    parts.push(`<rect class="segment" data-name="${piece.name}" data-ms="${round(piece.ms)}" x="${n(at)}" y="${y}" width="${n(w)}" height="26" fill="${piece.fill}" stroke="#ffffff" stroke-width="1"><title>${esc(`${piece.label}: ${duration(piece.ms)}`)}</title></rect>`);
    const long = `${piece.label} ${duration(piece.ms)}`;
    const short = duration(piece.ms);
    const inside = w > long.length * 7.2 + 10 ? long : w > short.length * 7.2 + 8 ? short : undefined;
    if (inside) parts.push(text(at + w / 2, y + 17.5, inside, { size: 12, weight: 'bold', anchor: 'middle', fill: '#ffffff' }));
    at += w;
  }
  parts.push('</g>');
  // The legend names every part with its share, zero or not, so "no policy wait" is said too.
  let lx = X0;
  for (const seg of segments) {
    const share = s.totalMs > 0 ? ` (${Math.round((seg.ms / s.totalMs) * 100)}%)` : '';
    const label = `${seg.label} ${duration(seg.ms)}${share}`;
    parts.push(`<rect x="${n(lx)}" y="${y + 36}" width="11" height="11" fill="${seg.fill}"/>`);
    parts.push(text(lx + 16, y + 46, label, { size: 12 }));
    lx += 16 + label.length * 6.4 + 18;
  }
  // What the overhead is made of: the hops between invocations, and the time inside them not spent waiting.
  const inside = Math.max(0, s.overheadMs - m.hopsMs);
  if (s.overheadMs > 0) {
    parts.push(text(X0, y + 64, `overhead = ${duration(Math.min(m.hopsMs, s.overheadMs))} between step invocations (queue hops, function starts) + ${duration(inside)} inside them (reads, ledger writes, polling overshoot)`, { size: 11, fill: Colours.muted }));
  }
  return parts;
}

function axis(a: { span: number; step: number }, y: number, bottom: number, x: (ms: number) => number): string[] {
  const parts: string[] = [`<g class="axis" data-span-ms="${a.span}">`];
  for (let t = 0; t <= a.span + 1e-9; t += a.step) {
    parts.push(`<line x1="${n(x(t))}" y1="${y + 6}" x2="${n(x(t))}" y2="${bottom}" stroke="${Colours.grid}" stroke-width="1"/>`);
    parts.push(text(x(t), y, tick(t, a.step), { size: 11, anchor: 'middle', fill: Colours.muted }));
  }
  parts.push('</g>');
  return parts;
}

function invocationRow(bar: InvocationBar, y: number, x: (ms: number) => number, previousEnd: number | undefined): string[] {
  const parts: string[] = [];
  const mid = y + BarHeight / 2;
  const name = bar.retry === 0 ? bar.step : `${bar.step} · look ${bar.retry + 1}`;
  parts.push(text(LabelRight, mid + 4, name, { size: 12, anchor: 'end' }));
  // The gap since the previous invocation ended: a queue hop and a function start (or a requeue's delay).
  if (previousEnd !== undefined && bar.startMs > previousEnd) {
    const gap = bar.startMs - previousEnd;
    parts.push(`<line class="hop" x1="${n(x(previousEnd))}" y1="${mid}" x2="${n(x(bar.startMs))}" y2="${mid}" stroke="${Colours.overhead}" stroke-width="1.5" stroke-dasharray="3 2"><title>${esc(`${duration(gap)} between invocations: queue hop, function start`)}</title></line>`);
    // Labelled on the line itself (the halo breaks the dashes) when there is room.
    if (x(bar.startMs) - x(previousEnd) > 50) parts.push(text((x(previousEnd) + x(bar.startMs)) / 2, mid + 3.5, duration(gap), { size: 10, anchor: 'middle', fill: Colours.muted }));
  }
  const w = Math.max(1.5, x(bar.startMs + bar.ms) - x(bar.startMs));
  const fill = outcomeColour(bar.outcome);
  const tip = [`${bar.step} (${bar.outcome}) ${duration(bar.ms)}: ${bar.detail}`, ...bar.waits.map((wt) => `waited: ${wt}`), callList(bar.callsByApi)].filter(Boolean).join('\n');
  parts.push(
    `<g class="invocation" data-step="${attr(bar.step)}" data-retry="${bar.retry}" data-outcome="${attr(bar.outcome)}" data-start-ms="${bar.startMs}" data-ms="${bar.ms}">` +
      `<rect class="bar" x="${n(x(bar.startMs))}" y="${y}" width="${n(w)}" height="${BarHeight}" rx="2" fill="${fill}"${bar.outcome === 'wait' ? ' fill-opacity="0.7"' : ''}><title>${esc(tip)}</title></rect>` +
      text(x(bar.startMs) + w + 6, mid + 4, `${duration(bar.ms)} · ${bar.calls} ECS call${bar.calls === 1 ? '' : 's'}${bar.outcome === 'wait' ? ' · requeued' : ''}`, { size: 11, cls: 'duration' }) +
      '</g>',
  );
  const said = bar.waits.length > 0 ? `waited: ${bar.waits.join('; ')}` : bar.detail;
  parts.push(text(x(bar.startMs), y + BarHeight + 11, clip(said, Math.max(40, Math.floor((Width - 20 - x(bar.startMs)) / 5.6))), { size: 10, fill: Colours.muted }));
  return parts;
}

function cloudRow(w: CloudWindow, y: number, x: (ms: number) => number, px: number): string[] {
  const mid = y + BarHeight / 2;
  const parts = [text(LabelRight, mid + 4, w.label, { size: 12, anchor: 'end' })];
  const start = x(w.startMs);
  const full = Math.max(1.5, w.ms * px);
  const own = w.ownMs === undefined ? undefined : w.ownMs * px;
  // The policy's windows (the hang threshold, the forced stop it orders) in amber, the cloud's in teal.
  const [dark, light] = w.policy ? [Colours.policy, Colours.policyLate] : [Colours.cloud, Colours.cloudLate];
  const body: string[] = [];
  if (own === undefined) {
    body.push(`<rect x="${n(start)}" y="${y}" width="${n(full)}" height="${BarHeight}" fill="${dark}" fill-opacity="${w.policy ? 1 : 0.8}"/>`);
  } else {
    body.push(`<rect x="${n(start)}" y="${y}" width="${n(full)}" height="${BarHeight}" fill="${light}"/>`);
    body.push(`<rect x="${n(start)}" y="${y}" width="${n(Math.max(1, own))}" height="${BarHeight}" fill="${dark}"/>`);
  }
  const late = w.ownMs === undefined ? undefined : w.ms - w.ownMs;
  const [long, short] =
    w.kind === WindowKind.DetachHang
      ? [`${duration(w.ms)} waiting by policy before fencing the source`, `${duration(w.ms)} policy wait`]
      : w.ownMs === undefined
        ? [`${duration(w.ms)} request → seen done`, duration(w.ms)]
        : [
            `${duration(w.ownMs)} ${w.policy ? 'the forced stop takes' : "the cloud's own"}${late !== undefined && late > 0 ? ` + ${duration(late)} until the workflow saw it` : ''}`,
            `${duration(w.ownMs)}${late !== undefined && late > 0 ? ` + ${duration(late)} late` : ''}`,
          ];
  body.push(besideBar(start, full, mid + 4, long, short));
  return [
    ...parts,
    `<g class="cloud" data-kind="${w.kind}" data-start-ms="${round(w.startMs)}" data-ms="${round(w.ms)}"${w.ownMs === undefined ? '' : ` data-own-ms="${round(w.ownMs)}"`}><title>${esc(`${w.label}: ${long}`)}</title>${body.join('')}</g>`,
  ];
}

/**
 * A label beside a bar: right of it if it fits in the picture, else left of it if that clears the row
 * labels, else the short form, right of the bar, clipped to the picture.
 */
function besideBar(start: number, width: number, y: number, long: string, short: string): string {
  const fitsRight = (label: string) => start + width + 6 + label.length * CharWidth < Width - 10;
  const fitsLeft = (label: string) => start - 6 - label.length * CharWidth > X0;
  for (const label of [long, short]) {
    if (fitsRight(label)) return text(start + width + 6, y, label, { size: 11 });
    if (fitsLeft(label)) return text(start - 6, y, label, { size: 11, anchor: 'end' });
  }
  return text(start + width + 6, y, clip(short, Math.max(4, Math.floor((Width - 10 - start - width - 6) / CharWidth))), { size: 11 });
}

function callsRow(m: TimelineModel, y: number, x: (ms: number) => number): string[] {
  const refused = m.calls.filter((c) => c.code !== undefined);
  const parts = [text(LabelRight, y + 12, 'ECS API calls', { size: 12, anchor: 'end' }), `<g class="calls" data-count="${m.calls.length}" data-refused="${refused.length}">`];
  for (const c of m.calls) {
    const cx = n(x(c.atMs));
    const bad = c.code !== undefined;
    parts.push(
      `<line x1="${cx}" y1="${bad ? y - 2 : y + 3}" x2="${cx}" y2="${y + 17}" stroke="${bad ? Colours.refused : Colours.call}" stroke-width="${bad ? 2 : 1}" stroke-opacity="${bad ? 1 : 0.55}"><title>${esc(`+${duration(c.atMs)} ${c.action}${bad ? ` refused ${c.code}: retried` : ''}`)}</title></line>`,
    );
  }
  parts.push('</g>');
  const note = `${m.calls.length} calls${refused.length > 0 ? `, ${refused.length} refused and retried (red)` : ', none refused'}`;
  parts.push(text(X0, y + 30, note, { size: 10, fill: Colours.muted }));
  return parts;
}

function totalMarker(m: TimelineModel, top: number, bottom: number, x: (ms: number) => number): string[] {
  const colour = outcomeColour(m.outcome?.outcome ?? 'running');
  const tx = n(x(m.totalMs));
  return [
    `<g class="total" data-ms="${m.totalMs}">`,
    `<line x1="${tx}" y1="${top + 6}" x2="${tx}" y2="${bottom}" stroke="${colour}" stroke-width="2"/>`,
    text(x(m.totalMs) + 4, top + 18, m.outcome ? `${m.outcome.outcome} ${duration(m.totalMs)}` : 'now', { size: 11, weight: 'bold', fill: colour }),
    '</g>',
  ];
}

function footer(m: TimelineModel, y0: number): { parts: string[]; y: number } {
  let y = y0;
  const parts: string[] = [];
  const line = (t: string, opts: TextOptions = {}) => {
    parts.push(text(20, y, t, { size: 11, fill: Colours.muted, ...opts }));
    y += 16;
  };
  if (m.outcome) line(clip(`${m.outcome.outcome}${m.outcome.reason ? ` (${m.outcome.reason})` : ''}: ${m.outcome.message}`, 190), { fill: Colours.text, size: 12 });
  if (m.skipped.length > 0) line(`not needed: ${m.skipped.join(', ')} (the plan went straight past it)`);
  if (m.droppedEntries > 0) line(`${m.droppedEntries} earlier step invocations are not kept in the record; the bars start after them`);
  line('Step bars: blue = handed on to the next step, grey = requeued to look again, green / red / orange = the outcome; dashed line = a queue hop and a function start.');
  line(
    m.split.basis === 'known'
      ? "Cloud rows: dark = the time the cloud itself takes (known latency), light = until the workflow looked and saw it done; amber = the policy's time."
      : "Cloud rows: from the request to the moment the workflow saw it done (as observed: polling included); amber = the policy's time.",
  );
  line(
    m.split.basis === 'known'
      ? 'Overhead = total - the cloud\'s own transition times - policy wait: function starts, queue hops, ledger writes, reads, polling overshoot.'
      : 'Overhead = total - the cloud rows - policy wait: function starts, queue hops, ledger writes, reads between transitions.',
  );
  return { parts, y };
}

// ---- text and numbers --------------------------------------------------------------------------------------

interface TextOptions {
  size?: number;
  weight?: 'bold';
  anchor?: 'start' | 'middle' | 'end';
  fill?: string;
  cls?: string;
}

function text(x: number, y: number, content: string, o: TextOptions = {}): string {
  return (
    `<text x="${n(x)}" y="${n(y)}" font-size="${o.size ?? 12}"${o.weight ? ` font-weight="${o.weight}"` : ''}${o.anchor && o.anchor !== 'start' ? ` text-anchor="${o.anchor}"` : ''}` +
    ` fill="${o.fill ?? Colours.text}"${o.fill === '#ffffff' ? '' : Halo}${o.cls ? ` class="${o.cls}"` : ''}>${esc(content)}</text>`
  );
}

/** A white outline under dark text keeps it legible where it crosses a grid line or the outcome's marker. */
const Halo = ' paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"';

const sectionLabel = (label: string, y: number) => text(20, y, label, { size: 12, weight: 'bold', fill: Colours.muted });

/** Characters XML 1.0 cannot carry even escaped (controls, lone surrogates, U+FFFE/U+FFFF) become U+FFFD. */
const NotXml = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;

/** Escapes text content: ids, reasons and messages come from the cloud and the request. */
export function esc(s: string): string {
  return s.replace(NotXml, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Escapes an attribute value (always written in double quotes). */
export function attr(s: string): string {
  return esc(s).replace(/"/g, '&quot;').replace(/'/g, '&apos;').replace(/[\t\n\r]/g, (c) => `&#${c.charCodeAt(0)};`);
}

function clip(s: string, max: number): string {
  const chars = [...s];
  return chars.length <= max ? s : `${chars.slice(0, max - 1).join('')}…`;
}

const n = (v: number) => String(Math.round(v * 10) / 10);
const round = (v: number) => Math.round(v);

/** 53 ms, 2.13 s, 95.4 s. */
export function duration(ms: number): string {
  if (Math.abs(ms) < 1000) return `${Math.round(ms)} ms`;
  return Math.abs(ms) < 60_000 ? `${(ms / 1000).toFixed(2)} s` : `${(ms / 1000).toFixed(1)} s`;
}

function tick(ms: number, step: number): string {
  if (step >= 60_000) return `${ms / 60_000} min`;
  if (step >= 1000) return `${ms / 1000} s`;
  return ms === 0 ? '0' : `${(ms / 1000).toFixed(1)} s`;
}

const Steps = [100, 200, 500, 1000, 2000, 5000, 10_000, 20_000, 30_000, 60_000, 120_000, 300_000, 600_000, 1_800_000, 3_600_000, 7_200_000, 21_600_000];

/** A round time axis a little longer than the total, with at most ten ticks. */
function axisSpan(totalMs: number): { span: number; step: number } {
  const wanted = Math.max(totalMs * 1.04, 100);
  const step = Steps.find((s) => wanted / s <= 10) ?? Steps[Steps.length - 1]!;
  return { span: Math.ceil(wanted / step) * step, step };
}

function callList(byApi: Readonly<Record<string, number>>): string {
  return Object.entries(byApi)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
}
