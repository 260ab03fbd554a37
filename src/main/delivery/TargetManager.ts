import { resolve, sep } from 'node:path';
import { randomUUID } from 'node:crypto';
import type BetterSqlite3 from 'better-sqlite3';
import { invalidArgument, notFound } from '../../shared/errors';
import {
  missingCredential,
  SECRET_FIELDS,
  SECRET_MASK,
  targetConfigSchema,
  type TargetConfig,
  type TargetJson,
  type TargetKind,
  type TargetTestResult,
} from '../../shared/targets';
import { parseWith } from '../../shared/validation';
import type { Logger } from '../logger';
import type { Encryptor } from '../security/SecretBox';
import { TargetRepository, type TargetRecord } from '../store/TargetRepository';
import { testTarget } from './testTarget';

/** A target as the API shows it: stored credentials replaced by the mask, their names listed. */
export function toTargetJson(record: TargetRecord): TargetJson {
  const shown: Record<string, unknown> = { ...record.config };
  const secrets: string[] = [];
  for (const field of SECRET_FIELDS[record.config.kind] as readonly string[]) {
    if (shown[field] === undefined) continue;
    shown[field] = SECRET_MASK;
    secrets.push(field);
  }
  return {
    ...(shown as TargetConfig),
    id: record.id,
    secrets,
    ...(record.credentialsError !== undefined ? { credentialsError: record.credentialsError } : {}),
    createdAt: record.createdAt,
    updatedAt: record.updatedAt,
  };
}

/** Fields that say where a target's credentials go: changing one drops the stored secrets. */
const DESTINATION_FIELDS = [
  'kind',
  'host',
  'port',
  'endpoint',
  'accountUrl',
  'accountName',
  'bucket',
  'container',
];

/** The first destination field that differs between two configs, or null. */
function changedDestination(before: TargetConfig, after: TargetConfig): string | null {
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  for (const field of DESTINATION_FIELDS) if (a[field] !== b[field]) return field;
  // A plain-FTP login to the same host must not reuse a password that only ever went over TLS.
  if (before.kind === 'ftp' && after.kind === 'ftp' && before.secure && !after.secure) return 'secure';
  return null;
}

/**
 * A pinned SFTP host key belongs to the server it was seen on: a change of host or port drops
 * it (the new server's key is trusted on first use) unless the body pins one itself; `null`
 * clears it (the documented way to accept a server's new key).
 */
function withCurrentPin(
  merged: Record<string, unknown>,
  stored: TargetConfig,
  body: Record<string, unknown>,
): Record<string, unknown> {
  const next = { ...merged };
  if (next.hostKeyFingerprint === null) delete next.hostKeyFingerprint;
  if (stored.kind !== 'sftp' || 'hostKeyFingerprint' in body) return next;
  if (next.kind !== 'sftp' || next.host !== stored.host || (next.port ?? 22) !== stored.port)
    delete next.hostKeyFingerprint;
  return next;
}

/** A config without its credentials (they are merged back by #parse when they may be). */
function withoutSecrets(config: TargetConfig): Record<string, unknown> {
  const copy: Record<string, unknown> = { ...config };
  for (const field of SECRET_FIELDS[config.kind] as readonly string[]) delete copy[field];
  return copy;
}

function asObject(body: unknown, what: string): Record<string, unknown> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidArgument(`${what}: must be a JSON object`);
  }
  return body as Record<string, unknown>;
}

/**
 * Delivery targets: create, change, remove and test them. Credentials are validated with the
 * rest of the config, stored encrypted and never given back: the API shows SECRET_MASK, and a
 * body that sends the mask back or leaves the field out keeps the stored value (null drops it).
 */
export class TargetManager {
  readonly repo: TargetRepository;
  readonly #logger: Logger;

  readonly #dataDir: string | null;

  constructor(
    db: BetterSqlite3.Database,
    encryptor: Encryptor,
    logger: Logger,
    dataDir: string | null = null,
  ) {
    this.repo = new TargetRepository(db, encryptor);
    this.#logger = logger;
    this.#dataDir = dataDir === null ? null : resolve(dataDir);
  }

  /**
   * Parses a whole config; `stored` supplies credentials the body masks or leaves out, but only
   * while the destination stays the same: a stored password is never sent to another host.
   */
  #parse(body: Record<string, unknown>, stored: TargetConfig | null, what: string): TargetConfig {
    const merged: Record<string, unknown> = { ...body };
    const kind = typeof body.kind === 'string' ? body.kind : stored?.kind;
    const fields: readonly string[] =
      kind !== undefined && kind in SECRET_FIELDS ? SECRET_FIELDS[kind as TargetKind] : [];
    const kept: string[] = [];
    for (const field of fields) {
      const value = merged[field];
      if (value === null) {
        // null removes a stored credential.
        delete merged[field];
        continue;
      }
      if (value !== undefined && value !== SECRET_MASK) continue; // a new credential
      const storedValue = stored?.kind === kind ? (stored as Record<string, unknown>)[field] : undefined;
      if (storedValue !== undefined) {
        merged[field] = storedValue;
        kept.push(field);
      } else if (value === SECRET_MASK) {
        throw invalidArgument(
          `${what}: ${field}: no stored value to keep; send the credential itself`,
          field,
        );
      }
    }
    const config = parseWith(targetConfigSchema, merged, what);
    if (config.kind === 'local' && this.#dataDir !== null) {
      const path = resolve(config.path);
      if (path === this.#dataDir || path.startsWith(this.#dataDir + sep)) {
        throw invalidArgument(`${what}: path: must not be inside the studio's data directory`, 'path');
      }
    }
    const moved = stored === null ? null : changedDestination(stored, config);
    if (moved !== null && kept.length > 0) {
      // The stored credentials belong to the old destination: never send them to the new one.
      throw invalidArgument(
        `${what}: ${kept[0]}: the stored credential is not sent to a changed ${moved}; send it again (or null to go without)`,
        kept[0],
      );
    }
    const missing = missingCredential(config);
    if (missing !== null)
      throw invalidArgument(`${what}: ${missing.field}: ${missing.message}`, missing.field);
    return config;
  }

  create(body: unknown): TargetJson {
    const config = this.#parse(asObject(body, 'target'), null, 'target');
    const now = Date.now();
    const record: TargetRecord = { id: randomUUID(), config, createdAt: now, updatedAt: now };
    this.repo.insert(record);
    this.#logger.info({ targetId: record.id, kind: config.kind, name: config.name }, 'target created');
    return toTargetJson(record);
  }

  list(): TargetJson[] {
    return this.repo.list().map(toTargetJson);
  }

  record(id: string): TargetRecord {
    const record = this.repo.get(id);
    if (record === null) throw notFound(`target ${id} does not exist`, 'targetId');
    return record;
  }

  get(id: string): TargetJson {
    return toTargetJson(this.record(id));
  }

  /** PATCH (merge the fields given) or PUT (`replace`: the body is the whole config). */
  update(id: string, body: unknown, replace = false): TargetJson {
    const current = this.record(id);
    const patch = asObject(body, 'target');
    // Stored secrets come back only through #parse, which checks that the destination is the same.
    const merged = withCurrentPin(
      replace ? patch : { ...withoutSecrets(current.config), ...patch },
      current.config,
      patch,
    );
    const config = this.#parse(merged, current.config, 'target');
    const record: TargetRecord = { ...current, config, updatedAt: Date.now() };
    this.repo.update(record);
    this.#logger.info({ targetId: id, kind: config.kind, name: config.name }, 'target updated');
    return toTargetJson(record);
  }

  delete(id: string): void {
    if (!this.repo.delete(id)) throw notFound(`target ${id} does not exist`, 'targetId');
    this.#logger.info({ targetId: id }, 'target deleted');
  }

  /** Tests a stored target, with unsaved changes from `body` applied when given. */
  async test(id: string, body?: unknown): Promise<TargetTestResult> {
    const current = this.record(id);
    if (current.credentialsError !== undefined && (body === undefined || body === null)) {
      const message = `${current.config.name}: ${current.credentialsError}`;
      return {
        ok: false,
        steps: [],
        error: { stage: 'connect', reason: 'config', permanent: true, message },
      };
    }
    const config =
      body === undefined || body === null || (typeof body === 'object' && Object.keys(body).length === 0)
        ? current.config
        : this.#parse(
            withCurrentPin(
              { ...withoutSecrets(current.config), ...asObject(body, 'target') },
              current.config,
              asObject(body, 'target'),
            ),
            current.config,
            'target',
          );
    return this.#run(config, id);
  }

  /**
   * Trust on first use: stores the host key fingerprint an SFTP target's server showed at its
   * first successful login, if the target still points at that server and pins no key yet.
   * Returns the key trusted for that server now (another connection may have pinned one
   * first), or null when the target no longer points there.
   */
  trustHostKey(id: string, used: TargetConfig, fingerprint: string): string | null {
    const current = this.repo.get(id);
    if (current === null || current.config.kind !== 'sftp' || used.kind !== 'sftp') return null;
    const config = current.config;
    if (config.host !== used.host || config.port !== used.port) return null;
    if (config.hostKeyFingerprint !== undefined) return config.hostKeyFingerprint;
    this.repo.update({
      ...current,
      config: { ...config, hostKeyFingerprint: fingerprint },
      updatedAt: Date.now(),
    });
    this.#logger.info(
      { targetId: id, host: config.host, port: config.port, fingerprint },
      'SFTP host key trusted on first use',
    );
    return fingerprint;
  }

  /** Tests a config that is not stored (the form before saving). */
  testConfig(body: unknown): Promise<TargetTestResult> {
    return this.#run(this.#parse(asObject(body, 'target'), null, 'target'), null);
  }

  async #run(config: TargetConfig, id: string | null): Promise<TargetTestResult> {
    const result = await testTarget(
      config,
      this.#logger,
      id === null ? {} : { trustHostKey: (fingerprint) => this.trustHostKey(id, config, fingerprint) },
    );
    const log = { targetId: id, kind: config.kind, name: config.name, ok: result.ok, error: result.error };
    if (result.ok) this.#logger.info(log, 'target test passed');
    else this.#logger.warn(log, 'target test failed');
    return result;
  }
}
