import type BetterSqlite3 from 'better-sqlite3';
import { SECRET_FIELDS, type TargetConfig, type TargetKind } from '../../shared/targets';
import type { Encryptor } from '../security/SecretBox';

/** A delivery target: its whole config, credentials included (decrypted). */
export interface TargetRecord {
  id: string;
  config: TargetConfig;
  createdAt: number;
  updatedAt: number;
  /** Why the stored credentials cannot be read (they must be entered again). */
  credentialsError?: string;
}

interface TargetRow {
  id: string;
  kind: string;
  name: string;
  enabled: number;
  config: string;
  secrets: string | null;
  created_at: number;
  updated_at: number;
}

/** Splits a config into the fields stored as JSON and the credentials stored encrypted. */
function split(config: TargetConfig): { plain: Record<string, unknown>; secrets: Record<string, string> } {
  const plain: Record<string, unknown> = { ...config };
  const secrets: Record<string, string> = {};
  for (const field of SECRET_FIELDS[config.kind] as readonly string[]) {
    const value = plain[field];
    delete plain[field];
    if (typeof value === 'string') secrets[field] = value;
  }
  return { plain, secrets };
}

/** Delivery targets. Credentials never reach the database in the clear. */
export class TargetRepository {
  readonly #db: BetterSqlite3.Database;
  readonly #encryptor: Encryptor;

  constructor(db: BetterSqlite3.Database, encryptor: Encryptor) {
    this.#db = db;
    this.#encryptor = encryptor;
  }

  #toRecord(row: TargetRow): TargetRecord {
    let secrets: Record<string, string> = {};
    let credentialsError: string | undefined;
    try {
      if (row.secrets !== null) {
        secrets = JSON.parse(this.#encryptor.decrypt(Buffer.from(row.secrets, 'base64'))) as Record<
          string,
          string
        >;
      }
    } catch (error) {
      // One unreadable target (key file replaced, another encryptor) must not hide the others.
      credentialsError = (error as Error).message;
    }
    const config = { ...(JSON.parse(row.config) as object), ...secrets } as unknown as TargetConfig;
    return {
      id: row.id,
      config,
      createdAt: row.created_at,
      updatedAt: row.updated_at,
      ...(credentialsError !== undefined ? { credentialsError } : {}),
    };
  }

  #columns(config: TargetConfig): {
    kind: TargetKind;
    name: string;
    enabled: number;
    config: string;
    secrets: string | null;
  } {
    const { plain, secrets } = split(config);
    return {
      kind: config.kind,
      name: config.name,
      enabled: config.enabled ? 1 : 0,
      config: JSON.stringify(plain),
      secrets:
        Object.keys(secrets).length === 0
          ? null
          : this.#encryptor.encrypt(JSON.stringify(secrets)).toString('base64'),
    };
  }

  insert(record: TargetRecord): void {
    this.#db
      .prepare(
        `INSERT INTO targets (id, kind, name, enabled, config, secrets, created_at, updated_at)
         VALUES (@id, @kind, @name, @enabled, @config, @secrets, @createdAt, @updatedAt)`,
      )
      .run({
        id: record.id,
        createdAt: record.createdAt,
        updatedAt: record.updatedAt,
        ...this.#columns(record.config),
      });
  }

  update(record: TargetRecord): void {
    this.#db
      .prepare(
        `UPDATE targets SET kind = @kind, name = @name, enabled = @enabled, config = @config, secrets = @secrets,
           updated_at = @updatedAt WHERE id = @id`,
      )
      .run({ id: record.id, updatedAt: record.updatedAt, ...this.#columns(record.config) });
  }

  get(id: string): TargetRecord | null {
    const row = this.#db.prepare('SELECT * FROM targets WHERE id = ?').get(id) as TargetRow | undefined;
    return row === undefined ? null : this.#toRecord(row);
  }

  list(): TargetRecord[] {
    const rows = this.#db.prepare('SELECT * FROM targets ORDER BY created_at, id').all() as TargetRow[];
    return rows.map((row) => this.#toRecord(row));
  }

  /** Enabled targets: where a new archive's files go. */
  enabled(): TargetRecord[] {
    const rows = this.#db
      .prepare('SELECT * FROM targets WHERE enabled = 1 ORDER BY created_at, id')
      .all() as TargetRow[];
    return rows.map((row) => this.#toRecord(row));
  }

  /** Names and kinds by id, without decrypting credentials (for listing deliveries). */
  summaries(): Map<string, { name: string; kind: TargetKind }> {
    const rows = this.#db.prepare('SELECT id, name, kind FROM targets').all() as Array<{
      id: string;
      name: string;
      kind: TargetKind;
    }>;
    return new Map(rows.map((row) => [row.id, { name: row.name, kind: row.kind }]));
  }

  delete(id: string): boolean {
    return this.#db.prepare('DELETE FROM targets WHERE id = ?').run(id).changes > 0;
  }
}
