import { useState, type FormEvent } from 'react';
import type { Health } from '../../../shared/api';
import type { TargetJson, TargetKind, TargetTestResult } from '../../../shared/targets';
import type { CreatedWebhookJson, WebhookDeliveryJson, WebhookJson } from '../../../shared/webhooks';
import { ConfirmButton, CopyButton, EmptyState, ErrorNote } from '../components/ui';
import { formatBytes } from '../format';
import { useApi } from '../hooks';
import { useStudio } from '../store';

interface SettingsResponse {
  values: Record<string, unknown>;
  fromEnvironment: string[];
  dataDir: string;
  settingsPath: string;
}

export function Settings() {
  return (
    <section>
      <h2>Settings</h2>
      <Targets />
      <Webhooks />
      <StudioSettings />
    </section>
  );
}

// ---- delivery targets ----------------------------------------------------------------------------

const KIND_FIELDS: Record<
  TargetKind,
  Array<{
    key: string;
    label: string;
    type?: 'password' | 'checkbox' | 'number' | 'textarea';
    placeholder?: string;
  }>
> = {
  local: [{ key: 'path', label: 'Folder', placeholder: '/mnt/nas/recordings' }],
  ftp: [
    { key: 'host', label: 'Host' },
    { key: 'port', label: 'Port', type: 'number', placeholder: '21' },
    { key: 'user', label: 'User' },
    { key: 'password', label: 'Password', type: 'password' },
    { key: 'secure', label: 'Explicit FTPS (TLS)', type: 'checkbox' },
    { key: 'path', label: 'Folder' },
  ],
  sftp: [
    { key: 'host', label: 'Host' },
    { key: 'port', label: 'Port', type: 'number', placeholder: '22' },
    { key: 'user', label: 'User' },
    { key: 'password', label: 'Password', type: 'password' },
    { key: 'privateKey', label: 'Private key (PEM/OpenSSH)', type: 'textarea' },
    {
      key: 'hostKeyFingerprint',
      label: 'Host key fingerprint (SHA256:…)',
      placeholder: 'pinned after the first test',
    },
    { key: 'path', label: 'Folder' },
  ],
  s3: [
    { key: 'endpoint', label: 'Endpoint (S3-compatible)', placeholder: 'empty for AWS' },
    { key: 'region', label: 'Region', placeholder: 'us-east-1' },
    { key: 'bucket', label: 'Bucket' },
    { key: 'prefix', label: 'Prefix' },
    { key: 'forcePathStyle', label: 'Path-style URLs', type: 'checkbox' },
    { key: 'accessKeyId', label: 'Access key id' },
    { key: 'secretAccessKey', label: 'Secret access key', type: 'password' },
    { key: 'storageClass', label: 'Storage class', placeholder: 'STANDARD' },
  ],
  azure: [
    { key: 'connectionString', label: 'Connection string', type: 'password' },
    { key: 'accountName', label: 'or account name' },
    { key: 'sasToken', label: 'and SAS token', type: 'password' },
    { key: 'container', label: 'Container' },
    { key: 'prefix', label: 'Prefix' },
  ],
};

function TestResult({ result }: { result: TargetTestResult }) {
  return (
    <div role="status" className={result.ok ? 'ok' : 'error'} data-testid="target-test-result">
      {result.ok ? 'Test passed: ' : `Test failed at ${result.error?.stage}: ${result.error?.message} — `}
      {result.steps.map((s) => `${s.stage} ${s.ok ? '✓' : '✗'}`).join(' · ')}
    </div>
  );
}

function Targets() {
  const api = useStudio((s) => s.api);
  const targets = useApi((a) => a.get<{ items: TargetJson[] }>('/api/targets'), []);
  const [kind, setKind] = useState<TargetKind>('local');
  const [fields, setFields] = useState<Record<string, unknown>>({
    name: '',
    pathTemplate: '{room}/{archiveId}/{file}',
  });
  const [error, setError] = useState<string | null>(null);
  const [tests, setTests] = useState<Record<string, TargetTestResult>>({});
  const body = () => {
    const out: Record<string, unknown> = { kind };
    for (const [key, value] of Object.entries(fields)) {
      if (value === '' || value === undefined) continue;
      const spec = KIND_FIELDS[kind].find((f) => f.key === key);
      out[key] = spec?.type === 'number' ? Number(value) : value;
    }
    return out;
  };
  const add = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const created = await api.post<TargetJson>('/api/targets', body());
      setFields({ name: '', pathTemplate: '{room}/{archiveId}/{file}' });
      setError(null);
      targets.reload();
      await test(created.id);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const test = async (id: string) => {
    try {
      const result = await api.post<TargetTestResult>(`/api/targets/${id}/test`);
      setTests((t) => ({ ...t, [id]: result }));
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="section card">
      <h3>Delivery targets</h3>
      <ErrorNote error={error ?? targets.error} />
      {targets.data?.items.length === 0 && (
        <p className="muted">No targets: recordings stay on this computer. Add one below.</p>
      )}
      <table className="data">
        <tbody>
          {targets.data?.items.map((t) => (
            <tr key={t.id} data-testid="target-row">
              <td>{t.name}</td>
              <td>{t.kind}</td>
              <td>
                <code>{t.pathTemplate}</code>
              </td>
              <td>{t.enabled ? 'enabled' : 'disabled'}</td>
              <td>
                <button type="button" className="secondary small" onClick={() => void test(t.id)}>
                  Test
                </button>{' '}
                <ConfirmButton
                  question={`Delete ${t.name}?`}
                  onConfirm={() =>
                    void api
                      .delete(`/api/targets/${t.id}`)
                      .then(targets.reload, (e: Error) => setError(e.message))
                  }
                >
                  Delete
                </ConfirmButton>
                {tests[t.id] && <TestResult result={tests[t.id]!} />}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <form onSubmit={(e) => void add(e)} aria-label="New target">
        <div className="row">
          <label>
            Kind
            <select
              value={kind}
              onChange={(e) => setKind(e.target.value as TargetKind)}
              aria-label="Target kind"
            >
              <option value="local">Local folder</option>
              <option value="ftp">FTP / FTPS</option>
              <option value="sftp">SFTP</option>
              <option value="s3">S3 / S3-compatible</option>
              <option value="azure">Azure Blob</option>
            </select>
          </label>
          <label>
            Name
            <input
              aria-label="Target name"
              value={String(fields.name ?? '')}
              onChange={(e) => setFields({ ...fields, name: e.target.value })}
              required
            />
          </label>
          <label>
            Path template
            <input
              value={String(fields.pathTemplate ?? '')}
              onChange={(e) => setFields({ ...fields, pathTemplate: e.target.value })}
            />
          </label>
        </div>
        <div className="row">
          {KIND_FIELDS[kind].map((f) =>
            f.type === 'checkbox' ? (
              <label key={f.key} className="inline">
                <input
                  type="checkbox"
                  checked={fields[f.key] === true}
                  onChange={(e) => setFields({ ...fields, [f.key]: e.target.checked })}
                />{' '}
                {f.label}
              </label>
            ) : f.type === 'textarea' ? (
              <label key={f.key}>
                {f.label}
                <textarea
                  rows={3}
                  value={String(fields[f.key] ?? '')}
                  onChange={(e) => setFields({ ...fields, [f.key]: e.target.value })}
                />
              </label>
            ) : (
              <label key={f.key}>
                {f.label}
                <input
                  aria-label={f.label}
                  type={f.type ?? 'text'}
                  placeholder={f.placeholder}
                  value={String(fields[f.key] ?? '')}
                  onChange={(e) => setFields({ ...fields, [f.key]: e.target.value })}
                  autoComplete="off"
                />
              </label>
            ),
          )}
          <button type="submit">Add and test</button>
        </div>
      </form>
    </div>
  );
}

// ---- webhooks ------------------------------------------------------------------------------------

function Webhooks() {
  const api = useStudio((s) => s.api);
  const hooks = useApi((a) => a.get<{ items: WebhookJson[] }>('/api/webhooks'), [], ['delivery.']);
  const [url, setUrl] = useState('');
  const [events, setEvents] = useState('');
  const [privateNetwork, setPrivateNetwork] = useState(false);
  const [created, setCreated] = useState<CreatedWebhookJson | null>(null);
  const [log, setLog] = useState<{ id: string; items: WebhookDeliveryJson[] } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const add = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const list = events
        .split(',')
        .map((e) => e.trim())
        .filter(Boolean);
      setCreated(
        await api.post<CreatedWebhookJson>('/api/webhooks', {
          url,
          ...(list.length ? { events: list } : {}),
          // Unchecked: the studio-wide setting decides (a receiver on the LAN needs one of them).
          ...(privateNetwork ? { allowPrivateNetwork: true } : {}),
        }),
      );
      setUrl('');
      setPrivateNetwork(false);
      setError(null);
      hooks.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const showLog = async (id: string) => {
    try {
      setLog({ id, ...(await api.get<{ items: WebhookDeliveryJson[] }>(`/api/webhooks/${id}/deliveries`)) });
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="section card">
      <h3>Webhooks</h3>
      <ErrorNote error={error ?? hooks.error} />
      <table className="data">
        <tbody>
          {hooks.data?.items.map((h) => (
            <tr key={h.id}>
              <td>
                <code>{h.url}</code>
              </td>
              <td>{h.kind}</td>
              <td>{h.events?.join(', ') ?? 'every event'}</td>
              <td>{h.allowPrivateNetwork ? 'local network allowed' : ''}</td>
              <td>{h.pending} pending</td>
              <td>
                <button type="button" className="secondary small" onClick={() => void showLog(h.id)}>
                  Recent deliveries
                </button>{' '}
                <ConfirmButton
                  question="Delete this webhook?"
                  onConfirm={() => void api.delete(`/api/webhooks/${h.id}`).then(hooks.reload)}
                >
                  Delete
                </ConfirmButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {log && (
        <table className="data">
          <tbody>
            {log.items.length === 0 && (
              <tr>
                <td className="muted">No deliveries yet.</td>
              </tr>
            )}
            {log.items.map((d) => (
              <tr key={d.id}>
                <td>{new Date(d.at).toLocaleTimeString()}</td>
                <td>{d.eventType}</td>
                <td>{d.statusCode ?? d.error}</td>
                <td>{d.messageStatus}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <form className="row" onSubmit={(e) => void add(e)} aria-label="New webhook">
        <label>
          URL
          <input
            type="url"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
            placeholder="https://example.com/hooks/spool"
            required
          />
        </label>
        <label>
          Events (comma separated; empty: all)
          <input
            value={events}
            onChange={(e) => setEvents(e.target.value)}
            placeholder="archive.available, delivery.succeeded"
          />
        </label>
        <label>
          <input
            type="checkbox"
            checked={privateNetwork}
            onChange={(e) => setPrivateNetwork(e.target.checked)}
          />{' '}
          Receiver on this machine or the local network
        </label>
        <button type="submit">Add webhook</button>
      </form>
      {created && (
        <p role="status">
          Signing secret (shown once): <code>{created.secret}</code> <CopyButton text={created.secret} />
        </p>
      )}
    </div>
  );
}

// ---- studio ----------------------------------------------------------------------------------------

const EDITABLE: Array<{ key: string; label: string; type: 'number' | 'checkbox' | 'text' }> = [
  { key: 'maxDurationSec', label: 'Longest recording (s)', type: 'number' },
  { key: 'maxTotalSec', label: 'Longest archive incl. pauses (s)', type: 'number' },
  { key: 'idleTimeoutSec', label: 'Stop when idle for (s)', type: 'number' },
  { key: 'retentionEnabled', label: 'Remove local files after upload', type: 'checkbox' },
  { key: 'retentionSec', label: 'Keep uploaded files for (s)', type: 'number' },
  { key: 'storageFallback', label: 'Keep files available when delivery gives up', type: 'checkbox' },
  { key: 'deliveryRetryWindowSec', label: 'Retry deliveries for (s)', type: 'number' },
  { key: 'filesUser', label: 'File server user', type: 'text' },
  { key: 'lanAddress', label: 'LAN address for guests', type: 'text' },
  { key: 'httpPort', label: 'HTTP port', type: 'number' },
  { key: 'httpsPort', label: 'HTTPS port (LAN)', type: 'number' },
];

function StudioSettings() {
  const api = useStudio((s) => s.api);
  const info = useStudio((s) => s.info);
  const settings = useApi((a) => a.get<SettingsResponse>('/api/settings'), []);
  const health = useApi((a) => a.get<Health>('/health'), [], ['studio.health']);
  const [draft, setDraft] = useState<Record<string, unknown>>({});
  const [secret, setSecret] = useState<string | null>(null);
  const [filesPassword, setFilesPassword] = useState('');
  const [message, setMessage] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const values = { ...settings.data?.values, ...draft };
  const save = async (event: FormEvent) => {
    event.preventDefault();
    try {
      const patch = { ...draft, ...(filesPassword ? { filesPassword } : {}) };
      const result = await api.patch<{ restartRequired: string[] }>('/api/settings', patch);
      setDraft({});
      setFilesPassword('');
      setError(null);
      setMessage(
        result.restartRequired.length
          ? `Saved. Restart the studio to apply: ${result.restartRequired.join(', ')}.`
          : 'Saved and applied.',
      );
      settings.reload();
    } catch (e) {
      setError((e as Error).message);
    }
  };
  return (
    <div className="section card">
      <h3>Studio</h3>
      <dl className="facts">
        <dt>API key</dt>
        <dd>
          <code>{info?.apiKey}</code> <CopyButton text={info?.apiKey ?? ''} />
        </dd>
        <dt>API secret</dt>
        <dd>
          {secret ? <code>{secret}</code> : '••••••'}{' '}
          <button
            type="button"
            className="secondary small"
            onClick={() =>
              void api
                .get<{ apiSecret: string }>('/api/settings/api-credentials')
                .then((c) => setSecret(c.apiSecret))
            }
          >
            Reveal
          </button>
        </dd>
        <dt>Data directory</dt>
        <dd>
          <code>{settings.data?.dataDir}</code>
        </dd>
        <dt>Disk</dt>
        <dd>
          {health.data
            ? `${formatBytes(health.data.disk.freeBytes)} free of ${formatBytes(health.data.disk.totalBytes)}`
            : '…'}
        </dd>
      </dl>
      {settings.data ? (
        <form onSubmit={(e) => void save(e)} aria-label="Studio settings">
          <div className="row">
            {EDITABLE.map((f) => {
              const locked = settings.data!.fromEnvironment.includes(f.key);
              return f.type === 'checkbox' ? (
                <label key={f.key} className="inline">
                  <input
                    type="checkbox"
                    disabled={locked}
                    checked={values[f.key] === true}
                    onChange={(e) => setDraft({ ...draft, [f.key]: e.target.checked })}
                  />{' '}
                  {f.label}
                </label>
              ) : (
                <label key={f.key}>
                  {f.label}
                  <input
                    aria-label={f.label}
                    type={f.type}
                    disabled={locked}
                    title={locked ? 'set by an environment variable' : undefined}
                    value={values[f.key] === null || values[f.key] === undefined ? '' : String(values[f.key])}
                    onChange={(e) =>
                      setDraft({
                        ...draft,
                        [f.key]:
                          f.type === 'number'
                            ? Number(e.target.value)
                            : e.target.value === ''
                              ? null
                              : e.target.value,
                      })
                    }
                  />
                </label>
              );
            })}
            <label>
              New file server password
              <input
                type="password"
                value={filesPassword}
                onChange={(e) => setFilesPassword(e.target.value)}
                autoComplete="new-password"
              />
            </label>
          </div>
          <button type="submit" disabled={Object.keys(draft).length === 0 && !filesPassword}>
            Save settings
          </button>
        </form>
      ) : (
        <EmptyState title="Loading settings…" />
      )}
      {message && (
        <p role="status" className="ok">
          {message}
        </p>
      )}
      <ErrorNote error={error ?? settings.error} />
    </div>
  );
}
