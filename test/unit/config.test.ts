import assert from 'node:assert/strict';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { ConfigError, loadConfig, updateSettings } from '../../src/main/config/loadConfig';
import { autoMediaWorkers, envNameOf, MAX_TIMER_SEC } from '../../src/main/config/schema';
import { tempDir } from '../helpers/tmp';

describe('config', () => {
  let dir: ReturnType<typeof tempDir>;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => dir.remove());

  const load = (env: Record<string, string> = {}, file?: unknown) => {
    if (file !== undefined)
      writeFileSync(join(dir.path, 'settings.json'), typeof file === 'string' ? file : JSON.stringify(file));
    return loadConfig({ dataDir: dir.path, env });
  };
  const refused = (fn: () => unknown, field: string, pattern: RegExp) => {
    assert.throws(fn, (error: unknown) => {
      assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
      assert.equal(error.field, field);
      assert.match(error.message, pattern);
      return true;
    });
  };

  it('works on first run with defaults and generated secrets, saved for the next start', () => {
    const first = load();
    assert.equal(first.settings.httpPort, 7480);
    assert.equal(first.settings.bindAddress, '127.0.0.1');
    assert.match(first.settings.apiKey, /^\d{8}$/);
    assert.ok(first.settings.apiSecret.length >= 32);
    assert.deepEqual(first.generated.sort(), ['apiKey', 'apiSecret', 'filesPassword', 'operatorPassword']);
    assert.equal(statSync(first.settingsPath).mode & 0o777, 0o600);
    const second = load();
    assert.deepEqual(second.generated, []);
    assert.equal(second.settings.apiSecret, first.settings.apiSecret);
    assert.equal(second.settings.operatorPassword, first.settings.operatorPassword);
  });

  it('names environment variables after the field', () => {
    assert.equal(envNameOf('apiKey'), 'SPOOL_API_KEY');
    assert.equal(envNameOf('filesPassword'), 'SPOOL_FILES_PASSWORD');
    assert.equal(envNameOf('maxDurationSec'), 'SPOOL_MAX_DURATION_SEC');
  });

  it('lets SPOOL_<FIELD> override the file, without saving the overridden secret', () => {
    load({}, { httpPort: 9000 });
    const config = load({
      SPOOL_HTTP_PORT: '9100',
      SPOOL_API_KEY: 'abcd1234',
      SPOOL_OPERATOR_PASSWORD: 'from-env-123',
    });
    assert.equal(config.settings.httpPort, 9100);
    assert.equal(config.settings.apiKey, 'abcd1234');
    assert.equal(config.settings.operatorPassword, 'from-env-123');
    const saved = JSON.parse(readFileSync(config.settingsPath, 'utf8')) as Record<string, unknown>;
    assert.equal(saved.httpPort, 9000);
    assert.notEqual(saved.operatorPassword, 'from-env-123');
  });

  it('refuses a port that is not a number, naming the field and the variable', () => {
    refused(
      () => load({ SPOOL_HTTP_PORT: 'eighty' }),
      'httpPort',
      /httpPort \(from SPOOL_HTTP_PORT\) must be a port number/,
    );
  });

  it('refuses a port out of range', () => {
    refused(
      () => load({}, { httpsPort: 70000 }),
      'httpsPort',
      /httpsPort \(from settings.json\) must be between 0 and 65535/,
    );
  });

  it('runs the media plane on worker threads by default: one per core but the main thread, 1 to 4', () => {
    assert.equal(load().settings.mediaWorkers, autoMediaWorkers());
    assert.deepEqual(
      [1, 2, 3, 8, 64].map((cores) => autoMediaWorkers(cores)),
      [1, 1, 2, 4, 4],
    );
    assert.equal(load({ SPOOL_MEDIA_WORKERS: 'Auto' }).settings.mediaWorkers, autoMediaWorkers());
    assert.equal(load({ SPOOL_MEDIA_WORKERS: '0' }).settings.mediaWorkers, 0);
    assert.equal(load({}, { mediaWorkers: 3 }).settings.mediaWorkers, 3);
    refused(
      () => load({ SPOOL_MEDIA_WORKERS: 'many' }),
      'mediaWorkers',
      /mediaWorkers \(from SPOOL_MEDIA_WORKERS\) must be auto or a number of worker threads/,
    );
    refused(() => load({}, { mediaWorkers: 65 }), 'mediaWorkers', /must be auto or between 0 and 64/);
  });

  it('spills a room from a worker with 50 connections by default; 0 counts only the busy share', () => {
    assert.equal(load().settings.mediaWorkerSpillPeers, 50);
    assert.equal(load({ SPOOL_MEDIA_WORKER_SPILL_PEERS: '0' }).settings.mediaWorkerSpillPeers, 0);
    refused(
      () => load({ SPOOL_MEDIA_WORKER_SPILL_PEERS: '-1' }),
      'mediaWorkerSpillPeers',
      /mediaWorkerSpillPeers \(from SPOOL_MEDIA_WORKER_SPILL_PEERS\) must be 0 or more/,
    );
    refused(
      () => load({}, { mediaWorkerSpillPeers: 'lots' }),
      'mediaWorkerSpillPeers',
      /must be a number of connections/,
    );
  });

  it('refuses a bind address with spaces', () => {
    refused(() => load({ SPOOL_BIND_ADDRESS: 'not an ip' }), 'bindAddress', /IP address or host name/);
  });

  it('refuses an API key with bad characters', () => {
    refused(() => load({ SPOOL_API_KEY: 'bad key!' }), 'apiKey', /apiKey .* letters, digits/);
  });

  it('refuses a short API secret', () => {
    refused(() => load({ SPOOL_API_SECRET: 'short' }), 'apiSecret', /at least 16 characters/);
  });

  it('refuses a short operator password', () => {
    refused(() => load({ SPOOL_OPERATOR_PASSWORD: 'abc' }), 'operatorPassword', /at least 8 characters/);
  });

  it('refuses a files user containing a colon', () => {
    refused(() => load({ SPOOL_FILES_USER: 'a:b' }), 'filesUser', /must not contain ":"/);
  });

  it('refuses a short files password', () => {
    refused(() => load({ SPOOL_FILES_PASSWORD: 'x' }), 'filesPassword', /at least 8 characters/);
  });

  it('refuses a limit of zero seconds', () => {
    refused(() => load({ SPOOL_MAX_DURATION_SEC: '0' }), 'maxDurationSec', /at least 1/);
    refused(() => load({ SPOOL_IDLE_TIMEOUT_SEC: '1.5' }), 'idleTimeoutSec', /whole seconds/);
  });

  it('refuses a duration a timer cannot wait (Node fires a longer one at once)', () => {
    refused(
      () => load({ SPOOL_SESSION_GRACE_SEC: '9007199254740991' }),
      'sessionGraceSec',
      new RegExp(`at most ${MAX_TIMER_SEC}`),
    );
    refused(
      () => load({ SPOOL_DISK_CHECK_INTERVAL_MS: '9007199254740991' }),
      'diskCheckIntervalMs',
      /at most/,
    );
    // Retention is compared with dates, never waited on: years are fine.
    assert.equal(
      load({ SPOOL_LOCAL_RETENTION_SEC: String(365 * 86_400) }).settings.localRetentionSec,
      365 * 86_400,
    );
  });

  it('takes from the API only values of the JSON type a setting has, and saves what it took', () => {
    const config = load();
    for (const [value, pattern] of [
      [true, /must be a number, not boolean/],
      [[7], /must be a number, not a list/],
      [null, /must be a number, not null/],
      ['', /must be a number, not string/],
      ['0x10', /must be a number, not string/],
      [MAX_TIMER_SEC + 1, /at most/],
    ] as const) {
      refused(() => updateSettings(config, { sessionGraceSec: value }, {}), 'sessionGraceSec', pattern);
    }
    refused(
      () => updateSettings(config, { retentionEnabled: 'yes' }, {}),
      'retentionEnabled',
      /true or false/,
    );
    refused(
      () => updateSettings(config, { allowedHosts: 'a.example' }, {}),
      'allowedHosts',
      /must be a list/,
    );
    refused(() => updateSettings(config, { operatorPassword: null }, {}), 'operatorPassword', /must be text/);
    refused(
      () => updateSettings(config, { constructor: 1 }, {}),
      'constructor',
      /unknown setting "constructor"/,
    );
    updateSettings(config, { sessionGraceSec: 30, mediaWorkers: 'auto', lanAddress: null }, {});
    assert.equal(config.settings.sessionGraceSec, 30);
    const saved = JSON.parse(readFileSync(join(dir.path, 'settings.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    assert.equal(saved.sessionGraceSec, 30);
  });

  it('refuses a total limit below the recorded-time limit', () => {
    refused(
      () => load({ SPOOL_MAX_DURATION_SEC: '100', SPOOL_MAX_TOTAL_SEC: '50' }),
      'maxTotalSec',
      /maxTotalSec \(50\) must be at least maxDurationSec \(100\)/,
    );
  });

  it('refuses an unknown log level', () => {
    refused(() => load({ SPOOL_LOG_LEVEL: 'loud' }), 'logLevel', /logLevel/);
  });

  it('refuses an unknown setting in the file (a typo would otherwise be ignored)', () => {
    refused(() => load({}, { htpPort: 1 }), 'htpPort', /unknown setting "htpPort"/);
  });

  it('refuses a settings file that is not JSON', () => {
    assert.throws(() => load({}, '{ nope'), /settings.json is not valid JSON/);
  });
});
