// Turns the collected results into the terminal table and the Markdown report.

const RATIO_LEGEND =
  '"×r" after a number = how many times slower that implementation is than tapegrad on the row ' +
  '(its time ÷ tapegrad\'s time; for GFLOP/s, tapegrad\'s rate ÷ its rate). ×r > 1: tapegrad is faster.';

function fmtNum(v) {
  const a = Math.abs(v);
  return a >= 100 ? v.toFixed(0) : a >= 10 ? v.toFixed(1) : a >= 1 ? v.toFixed(2) : v.toFixed(3);
}

const mb = (b) => (b / 2 ** 20).toFixed(2);

/** Cell text of one result, plus its footnote (reason / note / failed check), if any. */
function cell(w, r, tg) {
  if (!r) return { text: '' };
  if (r.status !== 'ok') return { text: r.status === 'na' ? 'n/a' : r.status, note: r.reason };
  const notes = [r.note, r.check && !r.check.ok && `check failed: ${r.check.detail}`, r.agreement && !r.agreement.ok && `losses disagree: ${r.agreement.detail}`].filter(Boolean);
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
  if ((r.check && !r.check.ok) || (r.agreement && !r.agreement.ok)) text += ' ✗';
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
      const tg = c.results.tapegrad;
      rows.push([w.title + (w.id === 'memory' ? '' : ` (${w.unit})`), c.key, ...results.impls.map((i) => {
        const { text, note } = cell(w, c.results[i.id], tg);
        return note ? `${text} ${ref(note)}` : text;
      })]);
    }
  }
  return { header, rows, notes };
}

/**
 * One line per row PyTorch ran: tapegrad's speed as a multiple of PyTorch's (> 1: tapegrad is
 * faster), with steps/s for training steps.
 */
function pytorchLines(results) {
  const rate = (w, r) => (w.unit === 'ms' ? ` (${fmtNum(1000 / r.value)} steps/s)` : '');
  const lines = [];
  for (const w of results.workloads) {
    for (const c of w.cases) {
      const pt = c.results.pytorch;
      if (pt?.status !== 'ok' || w.id === 'memory') continue;
      const ours = results.impls.filter((i) => i.id.startsWith('tapegrad') && c.results[i.id]?.status === 'ok').map(({ id, label }) => {
        const r = c.results[id];
        return `${label} ${fmtNum(w.higherIsBetter ? r.value / pt.value : pt.value / r.value)}×${rate(w, r)}`;
      });
      if (ours.length) lines.push(`${w.title}, ${c.key}: ${ours.join(', ')}; PyTorch ${fmtNum(pt.value)} ${w.unit}${rate(w, pt)}`);
    }
  }
  return lines.length ? ['Speed against PyTorch on one thread (> 1×: tapegrad is faster):', ...lines] : [];
}

function metaLines(results) {
  const m = results.meta;
  return [
    `date: ${m.date}${m.quick ? ' (--quick)' : ''}; run time ${m.durationSec.toFixed(0)} s`,
    `machine: ${m.cpu} (${m.cores} cores), ${m.platform}; Node ${m.node}; load average ${m.loadAverage.start.toFixed(1)} at start, ${m.loadAverage.end.toFixed(1)} at end`,
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
    ...pytorchLines(results).flatMap((l, i) => (i ? [`  ${l}`] : ['', l])),
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
    ...pytorchLines(results).flatMap((l, i) => (i ? [`- ${l}`] : [l, ''])),
    '',
  ].join('\n');
}
