import { randomBytes, randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import type { TargetConfig, TargetTestResult, TestStage } from '../../shared/targets';
import type { Logger } from '../logger';
import {
  DestinationError,
  messageOf,
  nodeReason,
  scrubFailure,
  toDestinationError,
} from './DestinationError';
import { createDestination, hostOf } from './destinations/createDestination';
import type { Destination } from './destinations/Destination';
import type { SftpDestinationOptions } from './destinations/SftpDestination';

/** The host a target connects to, for the name-resolution step (none for local folders). */
/**
 * The target test: resolves the host, connects and logs in, writes a probe file, reads it back,
 * compares and deletes it. Stops at the first failing step and says which step failed and why.
 */
export async function testTarget(
  config: TargetConfig,
  logger: Logger,
  options: SftpDestinationOptions = {},
): Promise<TargetTestResult> {
  const steps: TargetTestResult['steps'] = [];
  let destination: Destination | null = null;
  const step = async <T>(stage: TestStage, run: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      const value = await run();
      steps.push({ stage, ok: true, ms: Date.now() - started });
      return value;
    } catch (error) {
      const failure = toDestinationError(error, stage, `${stage} failed`);
      // connect() tells authentication apart from connecting; keep its stage.
      steps.push({
        stage: failure.stage === 'authenticate' ? 'authenticate' : stage,
        ok: false,
        ms: Date.now() - started,
        message: scrubFailure(failure.toFailure(), config).message,
      });
      throw failure;
    }
  };
  const probe = `.spool-probe-${randomUUID()}.txt`;
  const content = Buffer.from(
    `Spool Studio target test ${new Date().toISOString()} ${randomBytes(8).toString('hex')}\n`,
  );
  let written = false;
  try {
    const host = hostOf(config);
    if (host !== null && !/^[\d.]+$|:/.test(host)) {
      await step('resolve', async () => {
        try {
          await lookup(host);
        } catch (error) {
          const reason = nodeReason(error) ?? 'dns';
          throw new DestinationError('resolve', reason, `${host} does not resolve (${messageOf(error)})`);
        }
      });
    }
    destination = await createDestination(config, logger, options);
    const dest = destination;
    await step('connect', () => dest.connect());
    await step('write', () => dest.write(probe, content));
    written = true;
    await step('read', async () => {
      const back = await dest.read(probe);
      if (!back.equals(content)) {
        throw new DestinationError(
          'read',
          'checksum',
          `read back ${back.length} bytes that differ from the ${content.length} written`,
        );
      }
    });
    await step('delete', () => dest.remove(probe));
    written = false;
    return { ok: true, steps, details: dest.details() };
  } catch (error) {
    const failure =
      error instanceof DestinationError ? error : toDestinationError(error, 'connect', 'test failed');
    if (written) await destination?.remove(probe).catch(() => {});
    return {
      ok: false,
      steps,
      error: scrubFailure(failure.toFailure(), config),
      ...(destination !== null ? { details: destination.details() } : {}),
    };
  } finally {
    await destination?.close().catch(() => {});
  }
}
