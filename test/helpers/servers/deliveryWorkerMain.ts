/**
 * Runs the delivery service of a data folder in a process of its own, as the core would, so a
 * test can SIGKILL it mid-upload. Usage: deliveryWorkerMain.ts <dataDir> [settings JSON].
 * Prints `{"type":"ready"}` and then every delivery event as one JSON line on stdout; reads
 * `{"enqueue":"<archiveId>"}` lines on stdin (archives made available by another process).
 */
import { createInterface } from 'node:readline';
import { DeliveryHarness } from './deliveryHarness';

const [dataDir, settings] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: deliveryWorkerMain.ts <dataDir> [settings JSON]');
const harness = new DeliveryHarness({
  dataDir,
  settings: JSON.parse(settings ?? '{}') as object,
  start: false,
});
harness.bus.on('event', (event) => {
  if (event.type.startsWith('delivery.')) process.stdout.write(`${JSON.stringify(event)}\n`);
});
harness.startServices();
createInterface({ input: process.stdin }).on('line', (line) => {
  const command = JSON.parse(line) as { enqueue?: string };
  if (command.enqueue !== undefined) harness.delivery.enqueueArchive(command.enqueue);
});
process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
process.on('SIGTERM', () => {
  void harness.close().then(() => process.exit(0));
});
