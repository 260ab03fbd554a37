import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { clientName, issuePath } from '../../shared/validation';
import { envNameOf, GENERATED_FIELDS, settingsSchema, type Settings, type SettingsField } from './schema';

/** A setting that cannot be used: the message names the field, where it came from and why. */
export class ConfigError extends Error {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super(message);
    this.name = 'ConfigError';
    this.field = field;
  }
}

export interface LoadConfigOptions {
  /** Data directory; else `SPOOL_DATA_DIR`; else the OS app-data directory. */
  dataDir?: string;
  /** Environment to read `SPOOL_*` overrides from (default: `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Values that win over the file and the environment (command-line flags). */
  overrides?: Partial<Record<SettingsField, unknown>>;
}

export interface StudioConfig {
  dataDir: string;
  settingsPath: string;
  settings: Settings;
  /** Fields generated (and saved) by this load: the headless command prints the operator password. */
  generated: SettingsField[];
}

/** The OS app-data directory, the same one Electron's `userData` path would use. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === 'darwin') return join(homedir(), 'Library', 'Application Support', 'Spool Studio');
  if (process.platform === 'win32')
    return join(env.APPDATA ?? join(homedir(), 'AppData', 'Roaming'), 'Spool Studio');
  return join(env.XDG_CONFIG_HOME ?? join(homedir(), '.config'), 'spool-studio');
}

function generate(field: (typeof GENERATED_FIELDS)[number]): string {
  switch (field) {
    case 'apiKey':
      // OpenTok API keys are numeric; SDKs and scripts expect that shape.
      return String(randomInt(10_000_000, 100_000_000));
    case 'apiSecret':
      return randomBytes(20).toString('hex');
    case 'operatorPassword':
    case 'filesPassword':
      return randomBytes(12).toString('base64url');
  }
}

function readSettingsFile(path: string): Record<string, unknown> {
  if (!existsSync(path)) return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new ConfigError(`${path} is not valid JSON: ${(error as Error).message}`);
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
    throw new ConfigError(`${path} must hold a JSON object of settings`);
  }
  return parsed as Record<string, unknown>;
}

/** Writes the settings file atomically, readable only by the user (it holds secrets). */
export function writeSettingsFile(path: string, values: Record<string, unknown>): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(values, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/**
 * Loads, completes and validates the settings: defaults ← `settings.json` ← `SPOOL_*` env ←
 * overrides. Secrets missing everywhere are generated and saved, so a restart keeps them.
 * Throws ConfigError naming the first bad field, its source and the reason.
 */
export function loadConfig(options: LoadConfigOptions = {}): StudioConfig {
  const env = options.env ?? process.env;
  const dataDir = options.dataDir ?? (env.SPOOL_DATA_DIR || undefined) ?? defaultDataDir(env);
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    // Only this user may read recordings, the database and the keys.
    if (process.platform !== 'win32') chmodSync(dataDir, 0o700);
  } catch (error) {
    throw new ConfigError(`data directory ${dataDir} cannot be created: ${(error as Error).message}`);
  }
  const settingsPath = join(dataDir, 'settings.json');
  // It holds the secrets: this user only, even when someone else wrote it.
  if (process.platform !== 'win32' && existsSync(settingsPath)) chmodSync(settingsPath, 0o600);
  const fromFile = readSettingsFile(settingsPath);

  const source = new Map<string, string>();
  for (const key of Object.keys(fromFile)) source.set(key, `settings.json`);
  const fromEnv: Record<string, unknown> = {};
  for (const field of Object.keys(settingsSchema.shape)) {
    const value = env[envNameOf(field)];
    // An empty variable counts as unset, as shells and service managers commonly leave them.
    if (value !== undefined && value !== '') {
      fromEnv[field] = value;
      source.set(field, envNameOf(field));
    }
  }
  const overrides = Object.fromEntries(
    Object.entries(options.overrides ?? {}).filter(([, v]) => v !== undefined),
  );
  for (const key of Object.keys(overrides)) source.set(key, 'command line');

  const generated: SettingsField[] = [];
  const merged = { ...fromFile, ...fromEnv, ...overrides };
  const toSave = { ...fromFile };
  for (const field of GENERATED_FIELDS) {
    if (merged[field] === undefined) {
      const value = generate(field);
      merged[field] = value;
      toSave[field] = value;
      generated.push(field);
    }
  }

  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const field = issuePath(issue.path);
    const from = source.get(String(issue.path[0] ?? '')) ?? 'defaults';
    const message =
      issue.code === 'unrecognized_keys'
        ? `settings (${settingsPath}): unknown setting ${issue.keys.map((k) => `"${k}"`).join(', ')}`
        : `setting ${field} (from ${from}) ${issue.message}`;
    throw new ConfigError(message, issue.code === 'unrecognized_keys' ? issue.keys[0] : field);
  }
  const settings = result.data;
  if (settings.maxTotalSec < settings.maxDurationSec) {
    throw new ConfigError(
      `setting maxTotalSec (${settings.maxTotalSec}) must be at least maxDurationSec (${settings.maxDurationSec})`,
      'maxTotalSec',
    );
  }

  if (generated.length > 0) writeSettingsFile(settingsPath, { schemaVersion: 1, ...toSave });
  return { dataDir, settingsPath, settings, generated };
}

/** Settings that take effect at once when changed; the others after a restart. */
export const LIVE_SETTINGS: ReadonlySet<SettingsField> = new Set([
  'operatorPassword',
  'allowedHosts',
  'allowedOrigins',
  'loginFailuresPerMinute',
  'maxDurationSec',
  'maxTotalSec',
  'idleTimeoutSec',
  'sessionGraceSec',
  'keyframeIntervalSec',
  'autoArchiveOverlapSec',
  'autoArchiveStopSec',
  'archiveNoStreamTimeoutSec',
  'signedLinkTtlSec',
  'deliveryRetryWindowSec',
  'deliveryBackoffBaseSec',
  'deliveryBackoffMaxSec',
  'storageFallback',
  'retentionEnabled',
  'retentionSec',
  'localRetentionEnabled',
  'localRetentionSec',
  'webhookBackoffBaseSec',
  'webhookBackoffMaxSec',
  'webhookRetryWindowSec',
  'eventRetentionSec',
  'eventRetentionMaxRows',
  'logLevel',
]);

/**
 * Why a value sent to the API cannot be a setting's, judged by the JSON type of the value it
 * replaces (null when it can be): the schema coerces the text of environment variables
 * (`"30"` → 30, `"true"` → true), which must not turn `true`, `[7]` or `null` in a JSON body into
 * numbers. `mediaWorkers` also takes `"auto"`.
 */
function wrongJsonType(key: SettingsField, value: unknown, current: unknown): string | null {
  const kind = (v: unknown) => (v === null ? 'null' : Array.isArray(v) ? 'a list' : typeof v);
  if (typeof current === 'number') {
    if (typeof value === 'number' || (key === 'mediaWorkers' && value === 'auto')) return null;
    return `must be a number${key === 'mediaWorkers' ? ' or "auto"' : ''}, not ${kind(value)}`;
  }
  if (typeof current === 'boolean')
    return typeof value === 'boolean' ? null : `must be true or false, not ${kind(value)}`;
  if (Array.isArray(current)) return Array.isArray(value) ? null : `must be a list, not ${kind(value)}`;
  if (typeof current === 'string' || current === null) {
    // null only where the setting itself takes it (a nullable text: `lanAddress`, `ffmpegPath`).
    if (typeof value === 'string' || (value === null && settingsSchema.shape[key].safeParse(null).success))
      return null;
    return `must be text, not ${kind(value)}`;
  }
  return null;
}

/**
 * Changes settings: validates the result as a whole (the same rules as at start), saves the
 * file, and applies the live fields to `config.settings` in place (services read them from
 * there). Returns the fields that need a restart. Fields set by SPOOL_* variables cannot be
 * changed here (the variable would win at the next start).
 */
export function updateSettings(
  config: StudioConfig,
  patch: Record<string, unknown>,
  env: NodeJS.ProcessEnv = process.env,
): { restartRequired: SettingsField[] } {
  for (const [key, value] of Object.entries(patch)) {
    if (!Object.hasOwn(settingsSchema.shape, key) || key === 'schemaVersion') {
      throw new ConfigError(`unknown setting "${clientName(key)}"`, clientName(key));
    }
    if (env[envNameOf(key)]) {
      throw new ConfigError(`setting ${key} is set by ${envNameOf(key)} and cannot be changed here`, key);
    }
    const wrong = wrongJsonType(key as SettingsField, value, config.settings[key as SettingsField]);
    if (wrong !== null) throw new ConfigError(`setting ${key} ${wrong}`, key);
  }
  const fromFile = readSettingsFile(config.settingsPath);
  const next = { ...fromFile, ...patch };
  const merged = { ...config.settings, ...patch };
  const result = settingsSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    throw new ConfigError(`setting ${issuePath(issue.path)} ${issue.message}`, issuePath(issue.path));
  }
  if (result.data.maxTotalSec < result.data.maxDurationSec) {
    throw new ConfigError('setting maxTotalSec must be at least maxDurationSec', 'maxTotalSec');
  }
  writeSettingsFile(config.settingsPath, next);
  const restartRequired: SettingsField[] = [];
  const settings = config.settings as Record<string, unknown>;
  for (const key of Object.keys(patch) as SettingsField[]) {
    if (LIVE_SETTINGS.has(key)) settings[key] = result.data[key];
    else if (settings[key] !== result.data[key]) restartRequired.push(key);
  }
  return { restartRequired };
}
