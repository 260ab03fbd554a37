import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../tmp';
import { freePort, ownsPort, runAsync, ServerProcess, waitForPort, waitForPortClosed } from './processes';

/** A running OpenStack Swift (one replica, one device) with its S3 layer `s3api` on 127.0.0.1. */
export interface SwiftServer {
  /** S3 endpoint, e.g. `http://127.0.0.1:34567`. */
  endpoint: string;
  port: number;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** Kills the proxy (the S3 endpoint); storage servers keep running. */
  kill(): Promise<void>;
  /** Starts the proxy again on the same port. */
  restart(): Promise<void>;
  close(): Promise<void>;
}

const SERVERS = ['account', 'container', 'object'] as const;

function section(name: string, lines: string[]): string {
  return [`[${name}]`, ...lines, ''].join('\n');
}

/** One of the ports picked free was taken by another process before Swift bound it. */
class PortTaken extends Error {}

/**
 * Starts Swift's account, container, object and proxy servers (Debian `swift-*` packages)
 * with throw-away rings and storage in a temp folder. tempauth's `test:tester`/`testing` is
 * the S3 access key and secret. Started again on other ports (three tries) when another
 * process took one of them first: its object server then never ran, and every write answered
 * 503 ("Please reduce your request rate").
 */
export async function startSwift(): Promise<SwiftServer> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startSwiftOnce();
    } catch (error) {
      if (!(error instanceof PortTaken) || attempt >= 3) throw error;
    }
  }
}

async function startSwiftOnce(): Promise<SwiftServer> {
  const dir = tempDir('spool-swift-');
  const etc = join(dir.path, 'etc');
  const devices = join(dir.path, 'node');
  mkdirSync(etc, { recursive: true });
  mkdirSync(join(devices, 'd1'), { recursive: true });
  const ports = {
    account: await freePort(),
    container: await freePort(),
    object: await freePort(),
    proxy: await freePort(),
  };
  writeFileSync(
    join(etc, 'swift.conf'),
    section('swift-hash', ['swift_hash_path_prefix = spool', 'swift_hash_path_suffix = test']) +
      section('storage-policy:0', ['name = Policy-0', 'default = yes']),
  );
  const defaults = (port: number) =>
    section('DEFAULT', [
      'bind_ip = 127.0.0.1',
      `bind_port = ${port}`,
      'workers = 0',
      'user = root',
      `swift_dir = ${etc}`,
      `devices = ${devices}`,
      'mount_check = false',
      'log_level = WARNING',
    ]);
  // The three rings in one Python process (`swift-ring-builder create`, `add` and `rebalance` for
  // each is nine Python start-ups of ~1.4 s of CPU each, ~12 s per Swift), off the event loop:
  // blocking would starve servers started alongside. What the CLI does, through its library:
  // one device, one replica, 2^10 partitions.
  await runAsync('/usr/bin/python3', [
    '-c',
    [
      'import json, sys',
      'from swift.common.ring import RingBuilder',
      'for name, port in json.loads(sys.argv[2]).items():',
      '    builder = RingBuilder(10, 1, 1)',
      "    builder.add_dev({'region': 1, 'zone': 1, 'ip': '127.0.0.1', 'port': port, 'device': 'd1', 'weight': 100})",
      '    builder.rebalance()',
      '    builder.validate()',
      "    builder.get_ring().save(f'{sys.argv[1]}/{name}.ring.gz')",
    ].join('\n'),
    etc,
    JSON.stringify({ account: ports.account, container: ports.container, object: ports.object }),
  ]);
  for (const name of SERVERS)
    writeFileSync(
      join(etc, `${name}-server.conf`),
      defaults(ports[name]) +
        section('pipeline:main', [`pipeline = ${name}-server`]) +
        section(`app:${name}-server`, [`use = egg:swift#${name}`]),
    );
  const filters = [
    'catch_errors',
    'gatekeeper',
    'healthcheck',
    'proxy_logging',
    'listing_formats',
    'copy',
    'slo',
    'dlo',
  ];
  writeFileSync(
    join(etc, 'proxy-server.conf'),
    defaults(ports.proxy) +
      section('pipeline:main', [
        'pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server',
      ]) +
      section('app:proxy-server', ['use = egg:swift#proxy', 'account_autocreate = true']) +
      filters
        .map((f) => section(`filter:${f.replace('_logging', '-logging')}`, [`use = egg:swift#${f}`]))
        .join('') +
      // s3api needs a cache in the pipeline; no memcached runs, so it is an empty one.
      section('filter:cache', ['use = egg:swift#memcache']) +
      section('filter:s3api', ['use = egg:swift#s3api', 'location = us-east-1']) +
      section('filter:tempauth', ['use = egg:swift#tempauth', 'user_test_tester = testing .admin']),
  );

  const storage = SERVERS.map(
    (name) => new ServerProcess(`/usr/bin/swift-${name}-server`, [join(etc, `${name}-server.conf`)]),
  );
  let proxy: ServerProcess | null = null;
  const endpoint = `http://127.0.0.1:${ports.proxy}`;
  const start = async () => {
    proxy = new ServerProcess('/usr/bin/swift-proxy-server', [join(etc, 'proxy-server.conf')]);
    const current = proxy;
    const deadline = Date.now() + 30_000;
    for (;;) {
      const ok = await fetch(`${endpoint}/healthcheck`)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) break;
      const dead = [current, ...storage].find((p) => !p.running);
      if (dead !== undefined || Date.now() > deadline) {
        throw new Error(`swift did not start:\n${[current, ...storage].map((p) => p.output()).join('\n')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  const kill = async () => {
    await proxy?.stop('SIGKILL');
    await waitForPortClosed(ports.proxy);
  };
  try {
    // The proxy answers its healthcheck before the storage servers listen; S3 calls need both.
    await Promise.all(
      SERVERS.map((name, i) =>
        waitForPort(ports[name], 60_000, `swift-${name}-server`, () => storage[i]!.output()),
      ),
    );
    SERVERS.forEach((name, i) => {
      if (!ownsPort(storage[i]!.pid, ports[name]))
        throw new PortTaken(`port ${ports[name]} of swift-${name}-server is another process's`);
    });
    await start();
    if (!ownsPort((proxy as ServerProcess | null)?.pid ?? 0, ports.proxy))
      throw new PortTaken(`port ${ports.proxy} of swift-proxy-server is another process's`);
  } catch (error) {
    await Promise.all([proxy, ...storage].map((p) => p?.stop()));
    dir.remove();
    throw error;
  }
  let closed = false;
  return {
    endpoint,
    port: ports.proxy,
    region: 'us-east-1',
    accessKeyId: 'test:tester',
    secretAccessKey: 'testing',
    kill,
    restart: start,
    async close() {
      if (closed) return;
      closed = true;
      await Promise.all([proxy, ...storage].map((p) => p?.stop()));
      dir.remove();
    },
  };
}
