import { getRequestListener } from '@hono/node-server';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TwitchStandin } from './index';

/** A Node `(req, res)` request listener. */
export type NodeRequestListener = (incoming: IncomingMessage, outgoing: ServerResponse) => Promise<void>;

/**
 * Serves a stand-in to Node's http module, with @hono/node-server's `{ incoming, outgoing }` as the app's env,
 * so a `reset` fault destroys the real socket. Also fits miniflare's `outboundService: { node: listener }`,
 * where the Worker then sees a genuine "Network connection lost." instead of a 500.
 */
export function createStandinNodeListener(standin: TwitchStandin): NodeRequestListener {
  // overrideGlobalObjects: false keeps @hono/node-server from replacing the process-wide Request and Response,
  // which would leak into everything else running in the same test process.
  return getRequestListener((request, env) => standin.app.fetch(request, env), { overrideGlobalObjects: false });
}
