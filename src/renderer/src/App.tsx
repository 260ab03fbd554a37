import { useEffect, useSyncExternalStore, type ReactNode } from 'react';
import { Login } from './screens/Login';
import { Status } from './screens/Status';
import { connectEvents, useStudio } from './store';

interface Screen {
  path: string;
  title: string;
  render(): ReactNode;
}

/** The app's screens; each later part of the studio adds its own. */
const SCREENS: Screen[] = [{ path: 'status', title: 'Status', render: () => <Status /> }];

function subscribeHash(callback: () => void): () => void {
  window.addEventListener('hashchange', callback);
  return () => window.removeEventListener('hashchange', callback);
}

function useRoute(): string {
  const hash = useSyncExternalStore(subscribeHash, () => window.location.hash);
  return hash.replace(/^#\/?/, '').split('/')[0] || SCREENS[0]!.path;
}

export function App() {
  const token = useStudio((s) => s.api.token);
  const desktop = useStudio((s) => s.desktop);
  const logout = useStudio((s) => s.logout);
  const socketState = useStudio((s) => s.socketState);
  const route = useRoute();
  useEffect(() => (token === null ? undefined : connectEvents()), [token]);

  if (token === null) return <Login />;
  const screen = SCREENS.find((s) => s.path === route) ?? SCREENS[0]!;
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
      <main className="content">{screen.render()}</main>
    </div>
  );
}
