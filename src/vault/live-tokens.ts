import type { UserTokenBody } from '../tokens/token-body';

/** What a live connection receives: each new token, or that the grant is gone. */
export type LiveMessage = ({ type: 'token' } & UserTokenBody) | { type: 'revoked'; reason: string };

/** The subprotocol a client names when it sends its API key as `bearer.<key>` (no headers in browser WebSockets). */
export const LIVE_PROTOCOL = 'twitch-token-broker';

/** The subprotocols a WebSocket upgrade asks for. */
export const requestedProtocols = (request: Request): string[] =>
  (request.headers.get('Sec-WebSocket-Protocol') ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean);

/** Clients ping with this text; the runtime answers without waking the object. */
export const LIVE_PING = 'ping';

/** The close code (application range) a connection gets when a newer one for the same user pushes it out. */
export const LIVE_TOO_MANY_CODE = 4008;
/** Its close reason: fixed text, never a token or a key. */
export const LIVE_TOO_MANY_REASON = 'too many live connections for this user; the oldest was closed';

/** Kept with each socket, so the oldest can be found after the object hibernated. */
interface LiveAttachment {
  acceptedAt: number;
}

/** When a socket was accepted; 0 for one accepted before sockets carried the time (it is older than any that do). */
const acceptedAt = (socket: WebSocket): number => (socket.deserializeAttachment() as LiveAttachment | null)?.acceptedAt ?? 0;

/**
 * The hibernatable WebSockets of one user's vault (GET /token/users/:id/live): bots holding a chat
 * or EventSub connection hear of every new token instead of dying on a 401. While no message
 * arrives, the object hibernates and is not billed for duration; pings are answered by the runtime.
 */
export class LiveTokenSockets {
  constructor(private readonly ctx: DurableObjectState) {
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(LIVE_PING, 'pong'));
  }

  /**
   * Accepts an upgrade and sends the current token right away. With `maxSockets` already open, the
   * oldest are closed (LIVE_TOO_MANY_CODE): a restarted bot's new connection must win over the one
   * it left behind, and one API key must not pile up sockets on a vault without bound.
   */
  accept(first: LiveMessage, request: Request, maxSockets: number): Response {
    const open = this.ctx.getWebSockets().filter((socket) => socket.readyState === WebSocket.OPEN);
    const { 0: client, 1: server } = new WebSocketPair();
    server.serializeAttachment({ acceptedAt: Date.now() } satisfies LiveAttachment);
    this.ctx.acceptWebSocket(server);
    server.send(JSON.stringify(first));
    this.closeOldest(open, open.length + 1 - maxSockets);
    const protocols = requestedProtocols(request);
    return new Response(null, {
      status: 101,
      webSocket: client,
      ...(protocols.includes(LIVE_PROTOCOL) ? { headers: { 'Sec-WebSocket-Protocol': LIVE_PROTOCOL } } : {}),
    });
  }

  /** Closes the `count` oldest of `sockets`; equal times (the clock is coarse) keep getWebSockets()'s order, acceptance order in workerd. */
  private closeOldest(sockets: WebSocket[], count: number): void {
    if (count <= 0) return;
    const byAge = sockets.map((socket, index) => ({ socket, index, at: acceptedAt(socket) })).sort((a, b) => a.at - b.at || a.index - b.index);
    for (const { socket } of byAge.slice(0, count)) {
      try {
        socket.close(LIVE_TOO_MANY_CODE, LIVE_TOO_MANY_REASON);
      } catch {
        // Already closing: it is gone either way.
      }
    }
  }

  /** Whether anyone is listening (then the vault refreshes ahead of expiry on its own). */
  get connected(): boolean {
    return this.ctx.getWebSockets().length > 0;
  }

  /** Sends a message to every connection; a revocation also closes them. */
  broadcast(message: LiveMessage): void {
    const text = JSON.stringify(message);
    for (const socket of this.ctx.getWebSockets()) {
      try {
        socket.send(text);
        if (message.type === 'revoked') socket.close(1000, 'revoked');
      } catch {
        // A socket closing as we send: its client reconnects and gets the current state then.
      }
    }
  }
}
