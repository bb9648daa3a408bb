import type { AppTokenMinter } from './vault/app-token-minter';
import type { OneTimeStore } from './vault/one-time-store';
import type { UserVault } from './vault/user-vault';
import type { UserDirectory } from './sweep/user-directory';
import type { SweepLane } from './sweep/sweep-lane';
import type { LoginRateLimiter } from './http/login-rate-limiter';
import type { DeviceFlow } from './device/device-flow';

/** Every binding the Worker receives: vars and secrets (strings) and the storage bindings. */
export interface Env {
  TWITCH_CLIENT_ID?: string;
  TWITCH_CLIENT_SECRET?: string;
  TWITCH_AUTH_BASE_URL?: string;
  TWITCH_API_BASE_URL?: string;
  SESSION_SECRET?: string;
  TOKEN_ENCRYPTION_KEY?: string;
  API_KEYS?: string;
  ALLOWED_ORIGINS?: string;
  DEFAULT_SCOPES?: string;
  /** Optional: the only scopes /authorize may ask for (space-separated); unset allows any. */
  ALLOWED_SCOPES?: string;
  /** Optional: the `iss` of Twitch's id_tokens; default https://id.twitch.tv/oauth2. */
  TWITCH_OIDC_ISSUER?: string;
  /** Optional: the broker's public origin, when it is reachable under more than one host name. */
  PUBLIC_URL?: string;
  /** Optional secret: turns EventSub on (with PUBLIC_URL); Twitch signs webhook messages with it. */
  EVENTSUB_SECRET?: string;
  /** Optional: writes the Helix proxy may forward, `METHOD /path-prefix`, comma-separated. */
  HELIX_PROXY_ALLOW?: string;
  /** Optional: the most live token connections one user may hold (1–1000, default 32); a new one closes the oldest. */
  LIVE_TOKEN_MAX_SOCKETS?: string;
  /** Optional: where the broker POSTs signed events (user.authorized, user.revoked, …). */
  NOTIFY_URL?: string;
  /** Secret for NOTIFY_URL's `Broker-Signature` (required with it). */
  NOTIFY_SECRET?: string;
  /** Optional: the account id, with CF_ANALYTICS_TOKEN, lets the console chart the METRICS dataset. */
  CF_ACCOUNT_ID?: string;
  /** Secret with CF_ACCOUNT_ID: an API token with Account Analytics Read (for the SQL API). */
  CF_ANALYTICS_TOKEN?: string;
  /** Optional: the dataset METRICS writes to, if not `twitch_token_broker`. */
  METRICS_DATASET?: string;
  /** Optional: Cloudflare's API base URL (the tests point it at a local stand-in). */
  CLOUDFLARE_API_BASE_URL?: string;

  APP_TOKEN_CACHE: KVNamespace;
  USER_VAULT: DurableObjectNamespace<UserVault>;
  APP_TOKEN_MINTER: DurableObjectNamespace<AppTokenMinter>;
  ONE_TIME_STORE: DurableObjectNamespace<OneTimeStore>;
  USER_DIRECTORY: DurableObjectNamespace<UserDirectory>;
  /** The sweep's lanes: each checks a chunk of copies from an invocation of its own. */
  SWEEP_LANE: DurableObjectNamespace<SweepLane>;
  DEVICE_FLOW: DurableObjectNamespace<DeviceFlow>;
  /** Workers rate limiting; optional: without it the Durable Object fallback limits logins. */
  LOGIN_RATE_LIMITER?: RateLimit;
  LOGIN_RATE_LIMITER_FALLBACK: DurableObjectNamespace<LoginRateLimiter>;
  /** Optional Workers Analytics Engine dataset: refreshes, sweep batches, revocations, Twitch errors (src/metrics). */
  METRICS?: AnalyticsEngineDataset;
}

/** The Hono environment type shared by every router. */
export interface AppEnv {
  Bindings: Env;
  Variables: {
    /** Set by the session middleware once a session is verified. */
    session?: import('./session/session-token').SessionClaims;
    /** How the session arrived: a cookie needs an Origin check on state-changing requests, a bearer does not. */
    sessionTransport?: 'cookie' | 'bearer';
    /** The configured name of the API key that authenticated this request. */
    apiCaller?: string;
    /** Set by the admin console's middleware once its session cookie is verified. */
    adminSession?: import('./session/admin-session-token').AdminSessionClaims;
  };
}
