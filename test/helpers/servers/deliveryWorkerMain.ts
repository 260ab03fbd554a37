/**
 * Runs the delivery service of a data folder in a process of its own, as the core would, so a
 * test can SIGKILL it mid-upload. Usage: deliveryWorker.ts <dataDir> [settings JSON]. Prints
 * `{"type":"ready"}` and then every delivery event as one JSON line on stdout.
 */
import { DeliveryHarness } from './deliveryHarness';

const [dataDir, settings] = process.argv.slice(2);
if (dataDir === undefined) throw new Error('usage: deliveryWorker.ts <dataDir> [settings JSON]');
const harness = new DeliveryHarness({ dataDir, settings: JSON.parse(settings ?? '{}') as object });
harness.bus.on('event', (event) => {
  if (event.type.startsWith('delivery.')) process.stdout.write(`${JSON.stringify(event)}\n`);
});
process.stdout.write(`${JSON.stringify({ type: 'ready' })}\n`);
process.on('SIGTERM', () => {
  void harness.close().then(() => process.exit(0));
});
