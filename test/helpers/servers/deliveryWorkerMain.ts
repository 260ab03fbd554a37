/**
 * Runs the delivery service of a data folder in a process of its own, as the core would, so a
 * test can SIGKILL it mid-upload. Usage: deliveryWorkerMain.ts <dataDir> [settings JSON]. Prints
 * `{"type":"ready"}` and then every delivery event as one JSON line on stdout.
 */
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
process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
// The service's timers do not hold the process open; this does, until SIGTERM.
const keepAlive = setInterval(() => {}, 1 << 30);
process.on('SIGTERM', () => {
  clearInterval(keepAlive);
  void harness.close().then(() => process.exit(0));
});
