/**
 * A guard in front of werift's ICE agent (werift 0.25.2): the STUN binding requests and the remote
 * candidates it takes (`admitsCandidate`).
 *
 * werift answers every binding request that reaches an ICE socket, from any address, without
 * checking that its USERNAME names this agent or that its MESSAGE-INTEGRITY was made with this
 * agent's password (RFC 8445 §7.3, RFC 8489 §9.1.3): each new address became a peer-reflexive
 * candidate and a pair, and, the studio being ICE-lite, the first request with USE-CANDIDATE
 * nominated its pair. Measured: one forged request (a wrong USERNAME, no MESSAGE-INTEGRITY)
 * from another socket took a connecting session — ICE "connected" to the forger, the studio's
 * DTLS sent there — so the real guest could not connect; any host that can reach the studio's
 * ports (the LAN, in LAN mode) could do it to every guest joining. And the candidates and pairs
 * grew without bound (werift sorts its check list on each), a cost whoever sends chooses.
 *
 * Now a request is taken only when its USERNAME starts with this agent's ufrag (or an earlier one
 * of the same agent) and its MESSAGE-INTEGRITY verifies with the matching password; a request
 * from an address the agent does not know yet is taken only while it has learned fewer than
 * `MAX_REMOTE_CANDIDATES` such addresses (a guest's own credentials cannot make them grow
 * without bound). Other
 * requests are dropped without an answer (nothing to reflect). Responses to the agent's own
 * requests were already checked by werift (its transactions carry the key).
 *
 * werift also handed every other datagram (DTLS, SRTP) to the session whatever address it came
 * from. Measured: one 15-byte plaintext DTLS alert from another socket closed an established
 * session's DTLS transport — werift takes an alert in plaintext — and the studio stopped sending
 * it media. An ICE-lite agent (the studio's) now takes non-STUN datagrams only from addresses
 * that sent it a request it took: the peer's own (RFC 8445 §7.3: the remote agent checks every
 * pair it uses, so its requests come first).
 */
import { isIP } from 'node:net';
import { Connection, parseMessage, type Address, type Message } from 'werift';

/**
 * Peer-reflexive candidates an agent learns at most: addresses it was not told of that sent it a
 * request (a NAT's mapping; a handful in practice). What was signaled is bounded where it is
 * signaled (`MAX_SIGNALED_CANDIDATES`).
 */
export const MAX_REMOTE_CANDIDATES = 32;

const BINDING = 1;

/** What the guard reads of werift's ICE agent. */
interface Agent {
  localUsername: string;
  localPassword: string;
  /** ufrag → password of this agent's earlier credentials (after an ICE restart). */
  userHistory?: Record<string, string>;
  remoteCandidates: ReadonlyArray<{ host: string; port: number; type?: string }>;
  iceLite?: boolean;
}

/** Whether werift's agent may take this binding request (see above). */
export function admitsRequest(agent: Agent, message: Message, addr: Address, data: Buffer): boolean {
  if (message.messageMethod !== BINDING) return true; // werift answers 400 Bad Request itself
  const username: unknown = message.getAttributeValue('USERNAME');
  if (typeof username !== 'string') return false;
  const separator = username.indexOf(':');
  if (separator <= 0) return false;
  const ufrag = username.slice(0, separator);
  const password =
    ufrag === agent.localUsername
      ? agent.localPassword
      : Object.hasOwn(agent.userHistory ?? {}, ufrag)
        ? agent.userHistory![ufrag]
        : undefined;
  if (typeof password !== 'string' || password === '') return false;
  if (parseMessage(data, Buffer.from(password, 'utf8')) === undefined) return false;
  const [host, port] = addr;
  let learned = 0;
  for (const c of agent.remoteCandidates) {
    if (c.host === host && c.port === port) return true;
    if (c.type === 'prflx') learned++;
  }
  return learned < MAX_REMOTE_CANDIDATES;
}

/** Whether a datagram is STUN (RFC 7983: its first byte is 0–3); STUN has its own checks. */
const isStun = (data: Buffer) => data.length > 0 && data[0]! < 4;

/** What the guard reads and wraps of a werift STUN socket (`StunProtocol`). */
interface Protocol {
  onRequestReceived: { execute: (message: Message, addr: Address, data: Buffer) => void };
  datagramReceived(data: Buffer, addr: Address): void;
}

/**
 * Puts the checks in front of one socket of one agent: its binding requests, and (ICE-lite)
 * which addresses its other datagrams may come from.
 */
export function guardProtocol(agent: Agent, protocol: Protocol): void {
  /** Addresses ("host port") that sent a request the agent took. */
  const peers = new Set<string>();
  const requests = protocol.onRequestReceived;
  const execute = requests.execute;
  requests.execute = (message, addr, data) => {
    if (!admitsRequest(agent, message, addr, data)) return;
    peers.add(`${addr[0]} ${addr[1]}`);
    execute(message, addr, data);
  };
  if (agent.iceLite !== true) return;
  const datagramReceived = protocol.datagramReceived;
  // The address of the last datagram taken: nearly every datagram comes from it (no string made).
  let lastHost = '';
  let lastPort = -1;
  protocol.datagramReceived = function (this: Protocol, data: Buffer, addr: Address): void {
    const [host, port] = addr;
    if ((host !== lastHost || port !== lastPort) && !isStun(data)) {
      if (!peers.has(`${host} ${port}`)) return;
      lastHost = host;
      lastPort = port;
    }
    datagramReceived.call(this, data, addr);
  };
}

/**
 * Whether werift's agent may take a remote candidate: only one whose address is an IP literal.
 * werift resolves any other name (an mDNS `….local` that browsers signal in place of their
 * addresses) by multicast DNS with a 10 s timeout, awaited: a trickled one held a WHIP PATCH 10 s
 * (then the worker request timed out, 503), and each sent queries onto the LAN for a name the
 * client chose. The studio's agents are ICE-lite: they never send checks, so a remote candidate's
 * address is never needed (the peer's checks reach the studio from its real address, learned as
 * peer-reflexive). RFC 9725 §4.3.2: a candidate that cannot be resolved is silently discarded.
 */
export function admitsCandidate(candidate: { host: string } | undefined | null): boolean {
  return candidate === undefined || candidate === null || isIP(candidate.host) !== 0;
}

const GUARDED = Symbol('spool.iceGuard');

let installed = false;

/** Guards every werift ICE agent of this thread from now on. Idempotent. */
export function installIceGuard(): void {
  if (installed) return;
  installed = true;
  const prototype = Connection.prototype as unknown as {
    ensureProtocol(this: Agent, protocol: Protocol): unknown;
    addRemoteCandidate(this: Agent, candidate: { host: string } | undefined): Promise<void>;
  };
  // Offer candidates, trickled ones (WHIP PATCH) and signaling `candidate` messages all come here.
  const addRemoteCandidate = prototype.addRemoteCandidate;
  prototype.addRemoteCandidate = async function (this: Agent, candidate) {
    if (!admitsCandidate(candidate)) return;
    return addRemoteCandidate.call(this, candidate);
  };
  const ensureProtocol = prototype.ensureProtocol;
  prototype.ensureProtocol = function (this: Agent, protocol) {
    const marked = protocol as Protocol & { [GUARDED]?: true };
    if (marked[GUARDED] === undefined) {
      marked[GUARDED] = true;
      guardProtocol(this, protocol);
    }
    return ensureProtocol.call(this, protocol);
  };
}
