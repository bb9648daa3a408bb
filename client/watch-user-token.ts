import type { UserTokenBody } from './types.js';

/** The parts of a WebSocket `watchUserToken` uses; the standard `WebSocket` fits. */
export interface LiveSocket {
  send(data: string): void;
  close(code?: number, reason?: string): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  addEventListener(type: 'close', listener: (event: { code?: number }) => void): void;
  addEventListener(type: 'error', listener: () => void): void;
}

/** Options of `watchUserToken`. */
export interface WatchUserTokenOptions {
  /** Called when the grant ended (the user disconnected the app, was dropped, logged out). No reconnect follows. */
  onRevoked?: (reason: string) => void;
  /**
   * Called when the broker closed this connection because a newer one for the same user pushed it
   * out (close code 4008: more than LIVE_TOKEN_MAX_SOCKETS watchers). No reconnect follows: two
   * watchers over the limit would otherwise push each other out for ever.
   */
  onDisplaced?: () => void;
  /**
   * Opens the socket; by default the runtime's `WebSocket` (browsers, Workers, Deno, Bun, Node 22+)
   * with the API key as the subprotocol `bearer.<key>`. Node 20 needs one passed in (e.g. from `ws`).
   */
  openSocket?: (url: string, protocols: string[]) => LiveSocket | Promise<LiveSocket>;
  /** How often to ping (the broker answers without waking anything); default 30 s. */
  pingIntervalMs?: number;
}

/** A running watch: `close()` ends it for good. */
export interface TokenWatch {
  close(): void;
}

const LIVE_PROTOCOL = 'twitch-token-broker';
/** The broker's close code for a connection pushed out by a newer one for the same user. */
export const LIVE_DISPLACED_CLOSE_CODE = 4008;
const FIRST_RECONNECT_MS = 1_000;
const MAX_RECONNECT_MS = 30_000;

/**
 * Keeps a live connection to the broker for one user (GET /token/users/:userId/live) and calls
 * `onToken` with the current token and with every new one, so a bot's chat or EventSub connection
 * can swap tokens before the old one dies. Reconnects on its own (1 s doubling to 30 s, with
 * jitter), and gets the current token again on each reconnect; not after a revocation, nor after
 * a newer connection for the same user displaced this one (`onDisplaced`).
 */
export function watchUserToken(
  baseUrl: string,
  apiKey: string,
  userId: string,
  onToken: (token: UserTokenBody) => void,
  options: WatchUserTokenOptions = {},
): TokenWatch {
  const url = `${baseUrl.replace(/^http/, 'ws')}/token/users/${encodeURIComponent(userId)}/live`;
  const protocols = [LIVE_PROTOCOL, `bearer.${apiKey}`];
  const open =
    options.openSocket ??
    ((target: string, names: string[]) => {
      const Socket = (globalThis as { WebSocket?: new (url: string, protocols: string[]) => LiveSocket }).WebSocket;
      if (!Socket) throw new TypeError('no WebSocket in this runtime: pass openSocket (e.g. from the ws package)');
      return new Socket(target, names);
    });
  let stopped = false;
  let failures = 0;
  let socket: LiveSocket | null = null;
  let ping: ReturnType<typeof setInterval> | null = null;
  let retry: ReturnType<typeof setTimeout> | null = null;
  const stopTimers = () => {
    if (ping !== null) clearInterval(ping);
    if (retry !== null) clearTimeout(retry);
    ping = retry = null;
  };

  const reconnectLater = () => {
    if (stopped) return;
    const ceiling = Math.min(MAX_RECONNECT_MS, FIRST_RECONNECT_MS * 2 ** failures++);
    retry = setTimeout(connect, ceiling / 2 + (Math.random() * ceiling) / 2);
  };

  async function connect(): Promise<void> {
    if (stopped) return;
    let opened: LiveSocket;
    try {
      opened = await open(url, protocols);
    } catch {
      reconnectLater();
      return;
    }
    socket = opened;
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      stopTimers();
      reconnectLater();
    };
    opened.addEventListener('message', (event) => {
      if (typeof event.data !== 'string' || event.data === 'pong') return;
      const message = JSON.parse(event.data) as { type: string; reason?: string } & Partial<UserTokenBody>;
      if (message.type === 'token') {
        failures = 0;
        const { type: _type, ...token } = message;
        onToken(token as UserTokenBody);
      } else if (message.type === 'revoked') {
        stopped = true;
        options.onRevoked?.(message.reason ?? 'revoked');
      }
    });
    opened.addEventListener('close', (event) => {
      if (event.code === LIVE_DISPLACED_CLOSE_CODE && !stopped) {
        stopped = true;
        stopTimers();
        options.onDisplaced?.();
        return;
      }
      end();
    });
    opened.addEventListener('error', end);
    ping = setInterval(() => {
      try {
        opened.send('ping');
      } catch {
        end();
      }
    }, options.pingIntervalMs ?? 30_000);
  }

  void connect();
  return {
    close() {
      stopped = true;
      stopTimers();
      socket?.close(1000, 'done');
    },
  };
}
