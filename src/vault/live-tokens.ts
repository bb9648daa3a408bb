import type { UserTokenBody } from '../tokens/token-body';

/** What a live connection receives: each new token, or that the grant is gone. */
export type LiveMessage = ({ type: 'token' } & UserTokenBody) | { type: 'revoked'; reason: string };

/** The subprotocol a client names when it sends its API key as `bearer.<key>` (no headers in browser WebSockets). */
export const LIVE_PROTOCOL = 'twitch-token-broker';

/** The subprotocols a WebSocket upgrade asks for. */
export const requestedProtocols = (request: Request): string[] =>
  (request.headers.get('Sec-WebSocket-Protocol') ?? '').split(',').map((name) => name.trim()).filter(Boolean);

/** Clients ping with this text; the runtime answers without waking the object. */
export const LIVE_PING = 'ping';

/**
 * The hibernatable WebSockets of one user's vault (GET /token/users/:id/live): bots holding a chat
 * or EventSub connection hear of every new token instead of dying on a 401. While no message
 * arrives, the object hibernates and is not billed for duration; pings are answered by the runtime.
 */
export class LiveTokenSockets {
  constructor(private readonly ctx: DurableObjectState) {
    ctx.setWebSocketAutoResponse(new WebSocketRequestResponsePair(LIVE_PING, 'pong'));
  }

  /** Accepts an upgrade and sends the current token right away. */
  accept(first: LiveMessage, request: Request): Response {
    const { 0: client, 1: server } = new WebSocketPair();
    this.ctx.acceptWebSocket(server);
    server.send(JSON.stringify(first));
    const protocols = requestedProtocols(request);
    return new Response(null, {
      status: 101,
      webSocket: client,
      ...(protocols.includes(LIVE_PROTOCOL) ? { headers: { 'Sec-WebSocket-Protocol': LIVE_PROTOCOL } } : {}),
    });
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
