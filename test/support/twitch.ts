import { TWITCH } from '../test-bindings';

/** The stand-in's control API (see test/twitch-standin), reached like Twitch itself: over fetch. */

async function control<T>(method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${TWITCH}/_standin${path}`, {
    method,
    headers: body === undefined ? {} : { 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`stand-in ${method} ${path}: ${response.status} ${await response.text()}`);
  const text = await response.text();
  return (text ? JSON.parse(text) : null) as T;
}

export interface StandinCounts {
  authorize: number;
  token: { authorization_code: number; client_credentials: number; refresh_token: number };
  validate: number;
  revoke: number;
}

/** One /oauth2 call as the stand-in saw it; `status` 0 means no answer was sent (reset, aborted hang). */
export interface StandinCall {
  method: string;
  path: string;
  grantType?: string;
  status: number;
  at: number;
}

export interface Fault {
  path?: string;
  grantType?: string;
  status?: number;
  kind?: 'status' | 'reset' | 'hang' | 'garbage' | 'slow';
  times?: number;
  phase?: 'before' | 'after';
  delayMs?: number;
  retryAfterSeconds?: number;
  body?: string;
}

export const twitch = {
  reset: () => control<unknown>('POST', '/reset'),
  counts: async () => (await control<{ counts: StandinCounts }>('GET', '/calls')).counts,
  calls: async () => (await control<{ calls: StandinCall[] }>('GET', '/calls')).calls,
  inject: (fault: Fault) => control<unknown>('POST', '/faults', fault),
  clearFaults: () => control<unknown>('DELETE', '/faults'),
  configure: (config: Record<string, unknown>) => control<unknown>('POST', '/config', config),
  expire: (target: { access_token?: string; user_id?: string; app?: true }) => control<unknown>('POST', '/expire', target),
  disconnect: (userId: string) => control<unknown>('POST', '/disconnect', { user_id: userId }),
  addUsers: (count: number, startId: number) => control<unknown>('POST', '/users/bulk', { count, startId }),
  grant: (userId: string, scopes: string[] = ['user:read:email']) =>
    control<{ access_token: string; refresh_token: string; expires_in: number; scope: string[] }>('POST', '/grants', {
      user_id: userId,
      scopes,
    }),
  secrets: async () => (await control<{ secrets: string[] }>('GET', '/secrets')).secrets,
  refreshTokenReuse: async () => (await control<{ reused: string[] }>('GET', '/refresh-token-reuse')).reused,
};
