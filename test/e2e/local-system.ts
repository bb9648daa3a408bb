import { createHash } from 'node:crypto';
import { startTwitchStandinServer, type RunningStandinServer } from '../../standin/server';
import { startDevServer, type DevServer } from './dev-server';

/**
 * The whole system on this machine, as the end-to-end tests, the benchmark and the soak use it:
 * the local Twitch stand-in on a real port and the broker under `wrangler dev` with fresh state.
 */
export interface LocalSystem {
  broker: DevServer;
  twitch: RunningStandinServer;
  /** A key with every scope; the broker is configured with its digest only. */
  apiKey: string;
  stop(): Promise<void>;
}

/** The API key (every scope) of the system started with `label`. */
export const apiKeyFor = (label: string): string => `${label}-api-key-0123456789abcdef`;

/** Starts the stand-in and a fresh broker pointed at it; `label` names the keys in its settings. */
export async function startLocalSystem(label: string, options: { allowedOrigins?: string } = {}): Promise<LocalSystem> {
  const apiKey = apiKeyFor(label);
  const twitch = await startTwitchStandinServer({ port: 0, host: '127.0.0.1' });
  let broker: DevServer;
  try {
    broker = await startDevServer({
      TWITCH_CLIENT_ID: 'standin-client-id',
      TWITCH_CLIENT_SECRET: 'standin-client-secret',
      TWITCH_AUTH_BASE_URL: twitch.url,
      TWITCH_API_BASE_URL: twitch.url,
      SESSION_SECRET: `${label}-session-secret-0123456789abcdef-0123456789`,
      TOKEN_ENCRYPTION_KEY: createHash('sha256').update(label).digest('base64'),
      API_KEYS: `${label}:app+users+admin:${createHash('sha256').update(apiKey).digest('hex')}`,
      ALLOWED_ORIGINS: options.allowedOrigins ?? 'http://localhost:5173',
      DEFAULT_SCOPES: 'user:read:email',
    });
  } catch (error) {
    await twitch.close();
    throw error;
  }
  return {
    broker,
    twitch,
    apiKey,
    async stop() {
      await broker.stop();
      await twitch.close();
    },
  };
}

/** A minimal browser: one cookie jar per host, redirects followed by hand so each hop can be checked. */
export class Browser {
  private readonly jar = new Map<string, Map<string, string>>();

  /** The cookies this browser holds for `url`'s host. */
  cookies(url: string): Map<string, string> {
    const host = new URL(url).host;
    if (!this.jar.has(host)) this.jar.set(host, new Map());
    return this.jar.get(host)!;
  }

  /** A request with this browser's cookies; remembers (or forgets) what the response sets. */
  async fetch(url: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    const cookies = this.cookies(url);
    if (cookies.size) headers.set('Cookie', [...cookies].map(([name, value]) => `${name}=${value}`).join('; '));
    const response = await fetch(url, { ...init, headers, redirect: 'manual', signal: init.signal ?? AbortSignal.timeout(15_000) });
    for (const header of response.headers.getSetCookie()) {
      const [pair, ...attributes] = header.split(';');
      const [name, ...value] = pair!.split('=');
      if (attributes.some((attribute) => /max-age=0/i.test(attribute))) cookies.delete(name!.trim());
      else cookies.set(name!.trim(), value.join('='));
    }
    return response;
  }
}
