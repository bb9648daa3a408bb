import type { AccessToken, AccessTokenMaybeWithUserId, AccessTokenWithUserId, AuthProvider } from '@twurple/auth';
import { createBrokerClient, type BrokerClient } from './broker-client.js';
import { BrokerError, isErrorBody, trimBaseUrl } from './errors.js';
import type { AppTokenBody, HealthBody, UserTokenBody } from './types.js';

/**
 * `twitch-token-broker-client/twurple`: an `AuthProvider` for twurple (`@twurple/api`, `@twurple/chat`,
 * `@twurple/eventsub-*`) whose tokens come from the broker. The broker holds the refresh tokens and
 * the client secret; this provider holds only an API key and a short-lived cache.
 */

/** A user as twurple names one: an id, or an object with an `id` (a HelixUser). */
export type UserIdResolvable = Parameters<AuthProvider['getCurrentScopesForUser']>[0];

/** Options of `createBrokerAuthProvider`. */
export interface BrokerAuthProviderOptions {
  /** The broker's origin. */
  baseUrl: string;
  /** An API key with scopes `app` and `users`. */
  apiKey: string;
  /** Intent → user id, e.g. `{ chat: '100001' }` for the account a `ChatClient` connects as. */
  intents?: Record<string, string>;
  /** The fetch to use; the global one by default. */
  fetch?: typeof fetch;
  /** See `BrokerClientOptions.maxRetryWaitSeconds`. */
  maxRetryWaitSeconds?: number;
}

/**
 * Creates the provider. Async because twurple needs the Twitch client id up front, and the broker
 * names it in GET /health: the app's configuration stays in one place.
 */
export async function createBrokerAuthProvider(options: BrokerAuthProviderOptions): Promise<AuthProvider> {
  const fetchFn: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  const response = await fetchFn(`${trimBaseUrl(options.baseUrl)}/health`, { headers: { Accept: 'application/json' } });
  const health: unknown = response.ok ? await response.json() : undefined;
  const clientId = isHealthBody(health) ? health.client_id : null;
  if (!clientId) {
    throw new Error(`the broker at ${trimBaseUrl(options.baseUrl)} names no client id in /health (HTTP ${response.status}); check its TWITCH_CLIENT_ID`);
  }
  const client = createBrokerClient({
    baseUrl: options.baseUrl,
    apiKey: options.apiKey,
    fetch: fetchFn,
    ...(options.maxRetryWaitSeconds === undefined ? {} : { maxRetryWaitSeconds: options.maxRetryWaitSeconds }),
  });
  return new BrokerAuthProvider(clientId, client, options.intents ?? {});
}

/** The provider: every token from the broker, scope checks by the broker, refreshes by the broker. */
class BrokerAuthProvider implements AuthProvider {
  readonly authorizationType = 'Bearer';
  /** Scopes of each user's token as last seen, for twurple's synchronous `getCurrentScopesForUser`. */
  private readonly scopesByUser = new Map<string, string[]>();
  /**
   * Users the broker holds no token for, until when (epoch ms). twurple names a user as context
   * for public lookups too (`getUserById(id)`), so without this every such lookup would cost a
   * 404 at the broker before the app token is used.
   */
  private readonly withoutUserToken = new Map<string, number>();

  constructor(
    readonly clientId: string,
    private readonly client: BrokerClient,
    private readonly intents: Readonly<Record<string, string>>,
  ) {}

  /** The scopes of the user's token as last fetched (empty before the first fetch). */
  getCurrentScopesForUser(user: UserIdResolvable): string[] {
    return [...(this.scopesByUser.get(userIdOf(user)) ?? [])];
  }

  /**
   * The user's token. Each scope set is satisfied by any one of its scopes (twurple's rule); for a
   * set the grant meets with none, the broker is asked with the set's first scope, so the caller
   * gets `InsufficientScopeError` carrying the broker's `authorize_url`. Null for a user who never
   * logged in at the broker.
   */
  async getAccessTokenForUser(user: UserIdResolvable, ...scopeSets: Array<string[] | undefined>): Promise<AccessTokenWithUserId | null> {
    const userId = userIdOf(user);
    try {
      let body = await this.userToken(userId, {});
      const unmet = (grant: UserTokenBody) =>
        scopeSets.filter((set): set is string[] => !!set && set.length > 0 && !set.some((scope) => grant.scopes.includes(scope)));
      const missing = unmet(body).map((set) => set[0]!);
      if (missing.length > 0) body = await this.userToken(userId, { scope: missing });
      return userAccessToken(body);
    } catch (error) {
      if (error instanceof BrokerError && error.code === 'not_found') return null;
      throw error;
    }
  }

  /** The token of the user an intent names (`chat` for ChatClient); null for an intent not configured. */
  async getAccessTokenForIntent(intent: string, ...scopeSets: Array<string[] | undefined>): Promise<AccessTokenWithUserId | null> {
    const userId = this.intents[intent];
    if (userId === undefined) return null;
    const token = await this.getAccessTokenForUser(userId, ...scopeSets);
    if (!token) throw new Error(`intent ${intent} names user ${userId}, who has not logged in at the broker`);
    return token;
  }

  /** A user's token when the broker holds one for that user, else the app token (public data). */
  async getAnyAccessToken(user?: UserIdResolvable): Promise<AccessTokenMaybeWithUserId> {
    const userId = user === undefined ? undefined : userIdOf(user);
    if (userId !== undefined && (this.withoutUserToken.get(userId) ?? 0) <= Date.now()) {
      try {
        return userAccessToken(await this.userToken(userId, {}));
      } catch (error) {
        const noUserToken = error instanceof BrokerError && (error.code === 'not_found' || error.code === 'reauthorization_required');
        if (!noUserToken) throw error;
        if (this.withoutUserToken.size >= MAX_REMEMBERED_USERS) this.withoutUserToken.clear();
        this.withoutUserToken.set(userId, Date.now() + NO_USER_TOKEN_MEMORY_MS);
      }
    }
    return this.getAppAccessToken();
  }

  /** The app token; `forceNew` (twurple's answer to a Helix 401) makes the broker check it with Twitch. */
  async getAppAccessToken(forceNew = false): Promise<AccessToken> {
    return appAccessToken(await this.client.getAppToken({ forceRefresh: forceNew }));
  }

  /** twurple got a Helix 401 with this user's token: the broker checks it with Twitch and refreshes a dead one. */
  async refreshAccessTokenForUser(user: UserIdResolvable): Promise<AccessTokenWithUserId> {
    return userAccessToken(await this.userToken(userIdOf(user), { forceRefresh: true }));
  }

  /** `refreshAccessTokenForUser` for the user an intent names. */
  async refreshAccessTokenForIntent(intent: string): Promise<AccessTokenWithUserId> {
    const userId = this.intents[intent];
    if (userId === undefined) throw new Error(`no user is configured for intent ${intent}`);
    return this.refreshAccessTokenForUser(userId);
  }

  private async userToken(userId: string, options: { scope?: string[]; forceRefresh?: boolean }): Promise<UserTokenBody> {
    const body = await this.client.getUserToken(userId, options);
    this.scopesByUser.set(userId, [...body.scopes]);
    this.withoutUserToken.delete(userId);
    return body;
  }
}

/** How long `getAnyAccessToken` remembers that the broker holds no token for a user (public data is served with the app token meanwhile). */
const NO_USER_TOKEN_MEMORY_MS = 60_000;
const MAX_REMEMBERED_USERS = 10_000;

/** twurple's view of a user token: lifetime counted from when Twitch issued it. */
function userAccessToken(body: UserTokenBody): AccessTokenWithUserId {
  return {
    accessToken: body.access_token,
    // The broker never hands out refresh tokens; twurple asks this provider to refresh instead.
    refreshToken: null,
    scope: [...body.scopes],
    expiresIn: body.expires_at - body.obtained_at,
    obtainmentTimestamp: body.obtained_at * 1000,
    userId: body.user_id,
  };
}

/** twurple's view of the app token: the app body has no issue time, so its lifetime counts from now. */
function appAccessToken(body: AppTokenBody): AccessToken {
  return { accessToken: body.access_token, refreshToken: null, scope: [], expiresIn: body.expires_in, obtainmentTimestamp: Date.now() };
}

function userIdOf(user: UserIdResolvable): string {
  return typeof user === 'object' ? user.id : String(user);
}

function isHealthBody(value: unknown): value is HealthBody {
  return typeof value === 'object' && value !== null && !isErrorBody(value) && 'client_id' in value;
}
