// Turns the collected results into the terminal table and the Markdown report.

const RATIO_LEGEND =
  '"×r" after a number = how many times slower that implementation is than tapegrad on the same number of threads, on the row ' +
  '(its time ÷ tapegrad\'s time; for GFLOP/s, tapegrad\'s rate ÷ its rate). ×r > 1: tapegrad is faster.';

/** The tapegrad column a column is compared with: the one on as many threads. */
const referenceOf = (impl) => ((impl.threads ?? 1) > 1 ? 'tapegrad-mt' : 'tapegrad');
/** A column's label without its thread count, for lines that say the thread count once. */
const nameOf = (impl) => impl.label.replace(/ \(\d+ threads?\)$/, '');

function fmtNum(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

const mb = (b) => (b / 2 ** 20).toFixed(2);

/** Cell text of one result, plus its footnote (reason / note / failed check), if any. */
function cell(w, r, tg) {
  if (!r) return { text: '' };
  if (r.status !== 'ok') return { text: r.status === 'na' ? 'n/a' : r.status, note: r.reason };
  const failed = [r.check, r.agreement, r.threadsAgree].some((c) => c && !c.ok);
  const notes = [r.note, r.check && !r.check.ok && `check failed: ${r.check.detail}`, r.agreement && !r.agreement.ok && `losses disagree: ${r.agreement.detail}`,
    r.threadsAgree && !r.threadsAgree.ok && `results differ from 1 thread's: ${r.threadsAgree.detail}`].filter(Boolean);
  let text;
  if (w.id === 'memory') {
    const wasm = r.before.wasmBytes != null ? `; wasm ${mb(r.before.wasmBytes)}→${mb(r.after.wasmBytes)} MB` : '';
    const live = r.before.tensors != null ? `; tensors ${r.before.tensors}→${r.after.tensors}` : '';
    text = `heap ${mb(r.before.heap)}→${mb(r.after.heap)} MB${wasm}${live}`;
  } else {
    text = `${fmtNum(r.value)} ${w.unit}`;
    if (tg?.status === 'ok' && r !== tg) {
      const ratio = w.higherIsBetter ? tg.value / r.value : r.value / tg.value;
      text += ` ×${fmtNum(ratio)}`;
    }
  }
  if (failed) text += ' ✗';
  return { text, note: notes.join('; ') || undefined };
}

/** Rows of [workload title, case, cell per implementation], with numbered footnotes. */
export function buildTable(results) {
  const notes = [];
  const noteIndex = new Map();
  const ref = (text) => {
    if (!noteIndex.has(text)) {
      notes.push(text);
      noteIndex.set(text, notes.length);
    }
    return `[${noteIndex.get(text)}]`;
  };
  const header = ['workload', 'case', ...results.impls.map((i) => i.label)];
  const rows = [];
  for (const w of results.workloads) {
    for (const c of w.cases) {
      rows.push([w.title + (w.id === 'memory' ? '' : ` (${w.unit})`), c.key, ...results.impls.map((i) => {
        const { text, note } = cell(w, c.results[i.id], c.results[referenceOf(i)]);
        return note ? `${text} ${ref(note)}` : text;
      })]);
    }
  }
  return { header, rows, notes };
}

const ok = (r) => r?.status === 'ok';
/** How many times faster `r` is than `base` (> 1: faster). */
const speedup = (w, r, base) => (w.higherIsBetter ? r.value / base.value : base.value / r.value);
const rate = (w, r) => (w.unit === 'ms' ? ` (${fmtNum(1000 / r.value)} steps/s)` : '');
const threadsText = (n) => `${n} thread${n > 1 ? 's' : ''}`;

/**
 * The summaries under the table, each a title then one line per row it covers: tapegrad's speed
 * as a multiple of PyTorch's on 1 thread and on the "-mt" thread count (> 1: tapegrad is faster,
 * with steps/s for training steps), and each library's speed on that many threads against its own
 * on one (> 1: threads help).
 */
function summaries(results) {
  const byId = new Map(results.impls.map((i) => [i.id, i]));
  const rows = results.workloads.filter((w) => w.id !== 'memory').flatMap((w) => w.cases.map((c) => ({ w, c, title: `${w.title}, ${c.key}` })));
  const againstPytorch = (mt) => rows.flatMap(({ w, c, title }) => {
    const pt = c.results[`pytorch${mt}`];
    const ours = ['tapegrad', 'tapegrad-trace'].map((id) => id + mt).filter((id) => byId.has(id) && ok(c.results[id]) && ok(pt));
    const parts = ours.map((id) => `${nameOf(byId.get(id))} ${fmtNum(speedup(w, c.results[id], pt))}×${rate(w, c.results[id])}`);
    return parts.length ? [`${title}: ${parts.join(', ')}; PyTorch ${fmtNum(pt.value)} ${w.unit}${rate(w, pt)}`] : [];
  });
  const scaling = rows.flatMap(({ w, c, title }) => {
    const parts = ['tapegrad', 'tapegrad-trace', 'pytorch'].filter((id) => byId.has(`${id}-mt`) && ok(c.results[id]) && ok(c.results[`${id}-mt`]))
      .map((id) => `${nameOf(byId.get(id))} ${fmtNum(speedup(w, c.results[`${id}-mt`], c.results[id]))}×`);
    return parts.length ? [`${title}: ${parts.join(', ')}`] : [];
  });
  const n = threadsText(results.meta.threads ?? 1);
  return [
    ['Speed against PyTorch on 1 thread (> 1×: tapegrad is faster):', ...againstPytorch('')],
    [`Speed against PyTorch on ${n} (> 1×: tapegrad is faster):`, ...againstPytorch('-mt')],
    [`Speed on ${n} against 1 thread, each library against itself (> 1×: faster on ${n}):`, ...scaling],
  ].filter((lines) => lines.length > 1);
}

function metaLines(results) {
  const m = results.meta;
  return [
    `date: ${m.date}${m.quick ? ' (--quick)' : ''}; run time ${m.durationSec.toFixed(0)} s`,
    `machine: ${m.cpu} (${m.cores} cores), ${m.platform}; Node ${m.node}; load average ${m.loadAverage.start.toFixed(1)} at start, ${m.loadAverage.end.toFixed(1)} at end`,
    ...(m.threads ? [`threads: tapegrad and PyTorch on 1 thread and on ${threadsText(m.threads)} (the "-mt" columns${m.threads === m.cores ? ': every core' : ''}); the other libraries on one (none has threads in Node)`] : []),
    `tapegrad: build ${m.tapegrad.build}${m.tapegrad.error ? ` (${m.tapegrad.error})` : ''}`,
    `peers: ${Object.entries(m.peers).map(([k, v]) => `${k} ${v}`).join(', ')}`,
    ...(m.pytorch ? [`PyTorch: ${m.pytorch}`] : []),
  ];
}

export function toTerminal(results) {
  const { header, rows, notes } = buildTable(results);
  const all = [header, ...rows];
  const widths = header.map((_, j) => Math.max(...all.map((r) => [...r[j]].length)));
  const line = (r) => r.map((c, j) => c + ' '.repeat(widths[j] - [...c].length)).join('  ');
  return [
    ...metaLines(results),
    '',
    line(header),
    widths.map((n) => '-'.repeat(n)).join('  '),
    ...rows.map(line),
    '',
    RATIO_LEGEND,
    ...notes.map((n, i) => `[${i + 1}] ${n}`),
    ...summaries(results).flatMap(([title, ...lines]) => ['', title, ...lines.map((l) => `  ${l}`)]),
  ].join('\n');
}

export function toMarkdown(results) {
  const { header, rows, notes } = buildTable(results);
  const esc = (s) => s.replace(/\|/g, '\\|');
  return [
    `# tapegrad benchmark: ${results.meta.quick ? 'quick run (--quick: fewer samples)' : 'results'}`,
    '',
    `Command: \`${results.meta.command}\``,
    '',
    ...metaLines(results).map((l) => `- ${l}`),
    '',
    'Each number is the median of repeated runs after warm-up, one implementation per child process, one at a time.',
    RATIO_LEGEND,
    '',
    ...results.workloads.map((w) => `- **${w.title}**: ${w.about}`),
    '',
    `| ${header.map(esc).join(' | ')} |`,
    `| ${header.map(() => '---').join(' | ')} |`,
    ...rows.map((r) => `| ${r.map(esc).join(' | ')} |`),
    '',
    ...notes.map((n, i) => `${i + 1}. ${n}`),
    '',
    ...summaries(results).flatMap(([title, ...lines]) => [title, '', ...lines.map((l) => `- ${l}`), '']),
  ].join('\n');
}
