import { useState, type FormEvent } from 'react';
import { useStudio } from '../store';

/** The operator's login in a browser (the desktop app is logged in by its preload). */
export function Login() {
  const login = useStudio((s) => s.login);
  const error = useStudio((s) => s.loginError);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    await login(password);
    setBusy(false);
  };
  return (
    <main className="login">
      <form onSubmit={submit} className="card">
        <h1>Spool Studio</h1>
        <p className="muted">
          Enter the operator password. The headless command prints it on first start; it is also in
          settings.json.
        </p>
        <label>
          Operator password
          <input
            type="password"
            name="password"
            autoFocus
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        {error && (
          <p role="alert" className="error">
            {error}
          </p>
        )}
        <button type="submit" disabled={busy || password === ''}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </main>
  );
}
