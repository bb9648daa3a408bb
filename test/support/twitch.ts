import { TWITCH } from '../test-bindings';

/** The stand-in's control API (see standin/), reached like Twitch itself: over fetch. */

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
  /** `Location` of a 3xx fault. */
  location?: string;
}

export const twitch = {
  reset: () => control<unknown>('POST', '/reset'),
  counts: async () => (await control<{ counts: StandinCounts }>('GET', '/calls')).counts,
  calls: async () => (await control<{ calls: StandinCall[] }>('GET', '/calls')).calls,
  /** Helix and EventSub calls with the raw request target each arrived with. */
  apiCalls: async () => (await control<{ calls: { method: string; target: string }[] }>('GET', '/api-calls')).calls,
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
  /** The app's webhook receiver (NOTIFY_URL in the tests): what the broker sent, and failures to answer with. */
  appWebhook: {
    received: async () => (await control<{ received: ReceivedDelivery[] }>('GET', '/app-webhook/received')).received,
    fail: (times: number, status = 500) => control<unknown>('POST', '/app-webhook/fail', { times, status }),
  },
  device: {
    approve: (userCode: string, userId: string) => control<unknown>('POST', '/device/approve', { user_code: userCode, user_id: userId }),
    deny: (userCode: string) => control<unknown>('POST', '/device/deny', { user_code: userCode }),
    configure: (settings: { interval?: number; expiresIn?: number }) => control<unknown>('POST', '/device/config', settings),
  },
  eventsub: {
    /** `outbox`: messages wait for the test to carry them to the broker (which Node cannot reach). */
    delivery: (mode: 'direct' | 'outbox') => control<unknown>('POST', '/eventsub/delivery', { mode }),
    subscriptions: async () => (await control<{ data: EventSubSubscription[] }>('GET', '/eventsub/subscriptions')).data,
    outbox: async () => (await control<{ messages: EventSubDelivery[] }>('GET', '/eventsub/outbox')).messages,
    answer: (id: string, answer: { status: number; body: string; contentType: string }) => control<unknown>('POST', `/eventsub/outbox/${id}/answer`, answer),
    /** The user disconnects the app in their Twitch settings: tokens die, subscribers are told. */
    disconnect: (userId: string) => control<{ notified: number }>('POST', '/eventsub/disconnect', { user_id: userId }),
    revokeSubscription: (id: string, status = 'authorization_revoked') => control<unknown>('POST', '/eventsub/revoke-subscription', { id, status }),
  },
};

export interface EventSubSubscription {
  id: string;
  status: string;
  type: string;
  transport: { method: string; callback: string };
}

export interface EventSubDelivery {
  id: string;
  url: string;
  headers: Record<string, string>;
  body: string;
}

export interface ReceivedDelivery {
  headers: Record<string, string>;
  body: string;
  status: number;
}
