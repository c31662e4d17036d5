// Runs one workload of one implementation in its own process:
//   node --expose-gc bench/child.mjs <impl id> <workload id> [--quick]
// so that a crashing peer, or two tfjs backends, cannot disturb the rest of the run. Each result
// row is printed as soon as it exists (RESULT_MARK + JSON), then a final { done } line: if the
// process dies midway, the parent keeps the rows already printed.
import { IMPLS } from './impls/index.mjs';
import { WORKLOADS, errorText } from './lib/workloads.mjs';
import { settings, Unavailable, RESULT_MARK } from './lib/harness.mjs';

const emit = (msg) => process.stdout.write(`\n${RESULT_MARK}${JSON.stringify(msg)}\n`);

const [implId, workloadId] = process.argv.slice(2);
const impl = IMPLS.find((i) => i.id === implId);
const workload = WORKLOADS.find((w) => w.id === workloadId);

try {
  if (!impl || !workload) throw new Error(`unknown implementation or workload: ${implId} ${workloadId}`);
  const meta = await impl.init();
  await workload.run(impl, settings(process.argv.includes('--quick')), (row) => emit({ row }));
  emit({ done: { status: 'ok', meta } });
} catch (e) {
  emit({ done: e instanceof Unavailable ? { status: 'na', reason: e.message } : { status: 'error', reason: errorText(e) } });
}
process.exit(0);
