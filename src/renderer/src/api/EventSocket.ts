import type { AnyStudioEvent, EventSocketServerMessage } from '../../../shared/events';

export type SocketState = 'connecting' | 'open' | 'closed';

/** The operator's event socket: authenticates in-band and reconnects with backoff. */
export class EventSocket {
  #socket: WebSocket | null = null;
  #closed = false;
  #retry = 0;
  #timer: ReturnType<typeof setTimeout> | null = null;

  constructor(
    private readonly base: string,
    private readonly token: string,
    private readonly onEvent: (event: AnyStudioEvent) => void,
    private readonly onState: (state: SocketState) => void,
  ) {
    this.#connect();
  }

  #connect(): void {
    if (this.#closed) return;
    this.onState('connecting');
    const url = `${this.base.replace(/^http/, 'ws')}/api/events`;
    const socket = new WebSocket(url);
    this.#socket = socket;
    socket.onopen = () => socket.send(JSON.stringify({ type: 'auth', token: this.token }));
    socket.onmessage = (message) => {
      const data = JSON.parse(String(message.data)) as EventSocketServerMessage;
      if (data.type === 'ready') {
        this.#retry = 0;
        this.onState('open');
      } else if (data.type === 'event') {
        this.onEvent(data.event);
      }
    };
    socket.onclose = () => {
      this.#socket = null;
      this.onState('closed');
      if (this.#closed) return;
      const delay = Math.min(10_000, 500 * 2 ** this.#retry++);
      this.#timer = setTimeout(() => this.#connect(), delay);
    };
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#socket?.close();
  }
}
