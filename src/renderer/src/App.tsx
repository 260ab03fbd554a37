import { useEffect, useSyncExternalStore, type ReactNode } from 'react';
import { DiskBanner } from './components/DiskBanner';
import { useDesktopCommands } from './desktopCommands';
import { useStudioEvents } from './hooks';
import { Archive } from './screens/Archive';
import { Archives } from './screens/Archives';
import { Layouts } from './screens/Layouts';
import { Login } from './screens/Login';
import { Room } from './screens/Room';
import { Rooms } from './screens/Rooms';
import { Settings } from './screens/Settings';
import { Status } from './screens/Status';
import { connectEvents, useStudio } from './store';

interface Screen {
  path: string;
  title: string;
  render(param: string | undefined): ReactNode;
}

/** The app's screens: `#/<path>` or `#/<path>/<id>`. */
const SCREENS: Screen[] = [
  { path: 'rooms', title: 'Rooms', render: (id) => (id ? <Room key={id} id={id} /> : <Rooms />) },
  { path: 'archives', title: 'Archives', render: (id) => (id ? <Archive key={id} id={id} /> : <Archives />) },
  { path: 'layouts', title: 'Layouts', render: () => <Layouts /> },
  { path: 'settings', title: 'Settings', render: () => <Settings /> },
  { path: 'status', title: 'Status', render: () => <Status /> },
];

function subscribeHash(callback: () => void): () => void {
  window.addEventListener('hashchange', callback);
  return () => window.removeEventListener('hashchange', callback);
}

function useRoute(): { path: string; param: string | undefined } {
  const hash = useSyncExternalStore(subscribeHash, () => window.location.hash);
  const [path, param] = hash.replace(/^#\/?/, '').split('/');
  return { path: path || SCREENS[0]!.path, param: param ? decodeURIComponent(param) : undefined };
}

/** Native notifications: a recording stopped, a delivery failed. */
async function notify(title: string, body: string): Promise<void> {
  if (window.spool) {
    await window.spool.notify(title, body);
    return;
  }
  if (!('Notification' in window)) return;
  if (Notification.permission === 'default') await Notification.requestPermission();
  if (Notification.permission === 'granted') new Notification(title, { body });
}

export function App() {
  const token = useStudio((s) => s.api.token);
  const desktop = useStudio((s) => s.desktop);
  const logout = useStudio((s) => s.logout);
  const socketState = useStudio((s) => s.socketState);
  const refreshStatus = useStudio((s) => s.refreshStatus);
  const route = useRoute();
  useDesktopCommands();
  useEffect(() => (token === null ? undefined : connectEvents()), [token]);
  // Status again whenever the socket (re)connects: a disk level changed while it was down is not missed.
  useEffect(() => {
    if (token !== null && socketState === 'open') void refreshStatus();
  }, [token, socketState, refreshStatus]);
  useEffect(() => {
    if (token !== null) void refreshStatus();
  }, [token, refreshStatus]);
  useStudioEvents(['archive.stopped', 'delivery.failed'], (event) => {
    if (event.type === 'archive.stopped') {
      void notify('Recording stopped', `${event.data.name ?? 'Archive'}: ${event.data.reason || 'stopped'}`);
    } else if (event.type === 'delivery.failed') {
      void notify('Delivery failed', `${event.data.file} → ${event.data.targetName}: ${event.data.error}`);
    }
  });

  if (token === null) return <Login />;
  const screen = SCREENS.find((s) => s.path === route.path) ?? SCREENS[0]!;
  return (
    <div className="frame">
      <nav className="sidebar" aria-label="Main">
        <div className="brand">Spool Studio</div>
        {SCREENS.map((s) => (
          <a key={s.path} href={`#/${s.path}`} aria-current={s === screen ? 'page' : undefined}>
            {s.title}
          </a>
        ))}
        <div className="spacer" />
        <div className={`conn conn-${socketState}`} title="Event socket">
          {socketState === 'open' ? 'Live' : socketState === 'connecting' ? 'Connecting…' : 'Offline'}
        </div>
        {!desktop && (
          <button type="button" className="link" onClick={logout}>
            Log out
          </button>
        )}
      </nav>
      <main className="content">
        <DiskBanner />
        {screen.render(route.param)}
      </main>
    </div>
  );
}
