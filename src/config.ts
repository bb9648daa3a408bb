import { ConfigError } from './errors';
import {
  parseAccountId,
  parseAllowedScopes,
  parseAnalyticsToken,
  parseApiKeys,
  parseBaseUrl,
  parseDataset,
  parseDefaultScopes,
  parseEventSubSecret,
  parseHelixProxyAllow,
  parseLiveTokenMaxSockets,
  parseNotifySecret,
  parseNotifyUrl,
  parseOrigins,
  parsePublicUrl,
  parseSessionSecret,
  parseTokenKeys,
  required,
  type ApiKeyEntry,
} from './config-parsers';
import type { Env } from './env';

export { API_SCOPES, type ApiKeyEntry, type ApiScope, DEFAULT_LIVE_TOKEN_MAX_SOCKETS, isLoopbackHost, splitList } from './config-parsers';

/** The broker's settings, checked once per `env` object. Reading a broken setting throws. */
export interface Config {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly authBaseUrl: string;
  readonly apiBaseUrl: string;
  readonly sessionSecret: string;
  /** Raw 32-byte AES keys, newest first: the first seals, all unseal. */
  readonly tokenKeys: readonly Uint8Array[];
  readonly apiKeys: readonly ApiKeyEntry[];
  readonly allowedOrigins: ReadonlySet<string>;
  readonly defaultScopes: readonly string[];
  /** The scopes /authorize may ask for; null when ALLOWED_SCOPES is unset (any scope). */
  readonly allowedScopes: ReadonlySet<string> | null;
  readonly publicUrl: string | null;
  /** The `iss` of Twitch's id_tokens (configurable for the local stand-in). */
  readonly oidcIssuer: string;
  /** The EventSub webhook secret (10–100 ASCII characters), or null when EventSub is off. */
  readonly eventSubSecret: string | null;
  /** Writes the Helix proxy may forward (`METHOD /path-prefix`); GET on any path is always allowed. */
  readonly helixProxyAllow: readonly { method: string; prefix: string }[];
  /** Where the broker tells the app about events, and the secret it signs them with; null when off. */
  readonly notify: { url: string; secret: string } | null;
  /** The most live token connections (GET /token/users/:id/live) one user's vault holds; a new one closes the oldest. */
  readonly liveTokenMaxSockets: number;
  /** How the console reads the METRICS dataset back (Analytics Engine's SQL API); null when not set up. */
  readonly metricsQuery: MetricsQuerySettings | null;
  /** Names of settings that are missing or malformed, for /health. */
  readonly problems: readonly string[];
  /** What is wrong with each of those settings (never its value). */
  readonly problemDetails: Readonly<Record<string, string>>;
}

export interface MetricsQuerySettings {
  accountId: string;
  apiToken: string;
  dataset: string;
  apiBaseUrl: string;
}

const cache = new WeakMap<object, Config>();

/** Reads and checks configuration once per `env`; each getter throws a ConfigError naming its setting. */
export function getConfig(env: Env): Config {
  const cached = cache.get(env);
  if (cached) return cached;

  const allowedScopes = parseAllowedScopes(env.ALLOWED_SCOPES);
  const notifyUrl = parseNotifyUrl(env.NOTIFY_URL);
  const accountId = parseAccountId(env.CF_ACCOUNT_ID);
  // The metrics chart's other settings are read, and checked, only when CF_ACCOUNT_ID turns it on.
  const chartOn = 'value' in accountId && accountId.value !== null;
  const settings = {
    TWITCH_CLIENT_ID: required(env.TWITCH_CLIENT_ID),
    TWITCH_CLIENT_SECRET: required(env.TWITCH_CLIENT_SECRET),
    TWITCH_AUTH_BASE_URL: parseBaseUrl(env.TWITCH_AUTH_BASE_URL, 'https://id.twitch.tv'),
    TWITCH_API_BASE_URL: parseBaseUrl(env.TWITCH_API_BASE_URL, 'https://api.twitch.tv'),
    SESSION_SECRET: parseSessionSecret(env.SESSION_SECRET),
    TOKEN_ENCRYPTION_KEY: parseTokenKeys(env.TOKEN_ENCRYPTION_KEY),
    API_KEYS: parseApiKeys(env.API_KEYS),
    ALLOWED_ORIGINS: parseOrigins(env.ALLOWED_ORIGINS),
    ALLOWED_SCOPES: allowedScopes,
    DEFAULT_SCOPES: parseDefaultScopes(env.DEFAULT_SCOPES, allowedScopes),
    PUBLIC_URL: parsePublicUrl(env.PUBLIC_URL),
    TWITCH_OIDC_ISSUER: required(env.TWITCH_OIDC_ISSUER || 'https://id.twitch.tv/oauth2'),
    EVENTSUB_SECRET: parseEventSubSecret(env.EVENTSUB_SECRET),
    HELIX_PROXY_ALLOW: parseHelixProxyAllow(env.HELIX_PROXY_ALLOW),
    LIVE_TOKEN_MAX_SOCKETS: parseLiveTokenMaxSockets(env.LIVE_TOKEN_MAX_SOCKETS),
    NOTIFY_URL: notifyUrl,
    NOTIFY_SECRET: parseNotifySecret(env.NOTIFY_SECRET, notifyUrl),
    CF_ACCOUNT_ID: accountId,
    CF_ANALYTICS_TOKEN: parseAnalyticsToken(env.CF_ANALYTICS_TOKEN, chartOn),
    METRICS_DATASET: parseDataset(env.METRICS_DATASET, chartOn),
    // Where CF_ANALYTICS_TOKEN is sent.
    CLOUDFLARE_API_BASE_URL: chartOn ? parseBaseUrl(env.CLOUDFLARE_API_BASE_URL, 'https://api.cloudflare.com/client/v4') : { value: '' },
  };
  type Name = keyof typeof settings;
  const read = <T>(name: Name): T => {
    const setting = settings[name];
    if ('problem' in setting) throw new ConfigError(name, setting.problem);
    return setting.value as T;
  };

  const config: Config = {
    get clientId() {
      return read<string>('TWITCH_CLIENT_ID');
    },
    get clientSecret() {
      return read<string>('TWITCH_CLIENT_SECRET');
    },
    get authBaseUrl() {
      return read<string>('TWITCH_AUTH_BASE_URL');
    },
    get apiBaseUrl() {
      return read<string>('TWITCH_API_BASE_URL');
    },
    get sessionSecret() {
      return read<string>('SESSION_SECRET');
    },
    get tokenKeys() {
      return read<Uint8Array[]>('TOKEN_ENCRYPTION_KEY');
    },
    get apiKeys() {
      return read<ApiKeyEntry[]>('API_KEYS');
    },
    get allowedOrigins() {
      return read<Set<string>>('ALLOWED_ORIGINS');
    },
    get defaultScopes() {
      return read<string[]>('DEFAULT_SCOPES');
    },
    get allowedScopes() {
      return read<Set<string> | null>('ALLOWED_SCOPES');
    },
    get publicUrl() {
      return read<string | null>('PUBLIC_URL');
    },
    get oidcIssuer() {
      return read<string>('TWITCH_OIDC_ISSUER');
    },
    get eventSubSecret() {
      return read<string | null>('EVENTSUB_SECRET');
    },
    get helixProxyAllow() {
      return read<{ method: string; prefix: string }[]>('HELIX_PROXY_ALLOW');
    },
    get liveTokenMaxSockets() {
      return read<number>('LIVE_TOKEN_MAX_SOCKETS');
    },
    get notify() {
      const url = read<string | null>('NOTIFY_URL');
      return url === null ? null : { url, secret: read<string>('NOTIFY_SECRET') };
    },
    get metricsQuery() {
      const accountId = read<string | null>('CF_ACCOUNT_ID');
      if (accountId === null) return null;
      return {
        accountId,
        apiToken: read<string>('CF_ANALYTICS_TOKEN'),
        dataset: read<string>('METRICS_DATASET'),
        apiBaseUrl: read<string>('CLOUDFLARE_API_BASE_URL'),
      };
    },
    problems: (Object.keys(settings) as Name[]).filter((name) => 'problem' in settings[name]),
    problemDetails: Object.fromEntries(
      Object.entries(settings).flatMap(([name, setting]) => ('problem' in setting ? [[name, `${name} ${setting.problem}`]] : [])),
    ),
  };
  cache.set(env, config);
  return config;
}
