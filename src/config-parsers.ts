import { decodeBase64 } from './crypto/encoding';
import { parseScopes } from './http/scopes';

/**
 * How each setting is read and checked: one parser per setting, each answering a value or the
 * problem with it (src/config.ts gathers them into the Config and names the setting).
 */

/** A setting read: its value, or what is wrong with it. */
export type Parsed<T> = { value: T } | { problem: string };

/** What an API key may fetch. */
export type ApiScope = 'app' | 'users' | 'admin';
export const API_SCOPES: readonly ApiScope[] = ['app', 'users', 'admin'];

/** One configured caller: a name for logs, its scopes, and the SHA-256 of its key (never the key). */
export interface ApiKeyEntry {
  name: string;
  scopes: ReadonlySet<ApiScope>;
  digest: Uint8Array;
}

export const required = (raw: string | undefined): Parsed<string> => (raw?.trim() ? { value: raw.trim() } : { problem: 'is not set' });

/** localhost, 127.0.0.0/8 and [::1]: plain http there never leaves the machine. */
export const isLoopbackHost = (hostname: string): boolean =>
  hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127(\.\d{1,3}){3}$/.test(hostname);

/** An https URL, or plain http on a loopback host (the local stand-in): tokens and secrets travel there. */
export function parseBaseUrl(raw: string | undefined, fallback: string): Parsed<string> {
  const text = raw?.trim() || fallback;
  try {
    const url = new URL(text);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
      return { problem: 'must be an https URL (plain http only on localhost, 127.0.0.1 or [::1])' };
    }
    return { value: url.href.replace(/\/+$/, '') };
  } catch {
    return { problem: 'is not a valid URL' };
  }
}

/** Splits a comma- (or space-) separated list, dropping empties. */
export const splitList = (raw: string | undefined, separator = /[,\s]+/): string[] =>
  (raw ?? '')
    .split(separator)
    .map((item) => item.trim())
    .filter(Boolean);

export function parseTokenKeys(raw: string | undefined): Parsed<Uint8Array[]> {
  const encoded = splitList(raw, /,/);
  if (encoded.length === 0) return { problem: 'is not set (32 random bytes, base64; see .dev.vars.example)' };
  const keys: Uint8Array[] = [];
  for (const [index, text] of encoded.entries()) {
    const bytes = decodeBase64(text);
    if (bytes?.length !== 32) {
      return { problem: `key #${index + 1} must be exactly 32 bytes, base64-encoded` };
    }
    keys.push(bytes);
  }
  return { value: keys };
}

export function parseOrigins(raw: string | undefined): Parsed<Set<string>> {
  const origins = new Set<string>();
  for (const text of splitList(raw, /,/)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      return { problem: `has an entry that is not an origin (scheme://host[:port])` };
    }
    if ((url.protocol !== 'https:' && url.protocol !== 'http:') || url.pathname !== '/' || url.search || url.username) {
      return { problem: `has an entry that is not an origin (scheme://host[:port])` };
    }
    origins.add(url.origin);
  }
  return { value: origins };
}

export function parseScopeList(raw: string | undefined): Parsed<string[]> {
  const scopes = parseScopes((raw ?? '').replace(/[,\s]+/g, ' '));
  return scopes ? { value: scopes } : { problem: 'has a malformed scope' };
}

export function parseAllowedScopes(raw: string | undefined): Parsed<Set<string> | null> {
  const scopes = parseScopeList(raw);
  if ('problem' in scopes) return scopes;
  return { value: scopes.value.length > 0 ? new Set(scopes.value) : null };
}

export function parseDefaultScopes(raw: string | undefined, allowed: Parsed<Set<string> | null>): Parsed<string[]> {
  const scopes = parseScopeList(raw);
  if ('problem' in scopes || !('value' in allowed) || allowed.value === null) return scopes;
  const outside = scopes.value.filter((scope) => scope !== 'openid' && !allowed.value!.has(scope));
  return outside.length === 0 ? scopes : { problem: `names scopes that ALLOWED_SCOPES does not: ${outside.join(' ')}` };
}

/** Fewer distinct characters than this in a session secret means it was typed, not generated. */
const MIN_DISTINCT_SECRET_CHARACTERS = 8;

/** True when `text` is one shorter sequence repeated (`abcabcabc…`). */
const isRepetition = (text: string): boolean => (text + text).indexOf(text, 1) < text.length;

/**
 * At least 32 characters, at least 8 different ones, and not one short sequence repeated: refuses
 * typed secrets such as `xxxx…` or `password` × 6, never a generated one (32 random hex characters
 * have fewer than 8 distinct ones with odds of about 1 in 30 million).
 */
export function parseSessionSecret(raw: string | undefined): Parsed<string> {
  const secret = required(raw);
  if ('problem' in secret) return secret;
  if (secret.value.length < 32) return { problem: 'must be at least 32 characters' };
  if (new Set(secret.value).size < MIN_DISTINCT_SECRET_CHARACTERS || isRepetition(secret.value)) {
    return { problem: 'has too little entropy: generate one (e.g. openssl rand -base64 48)' };
  }
  return secret;
}

const API_KEY_ENTRY = /^([A-Za-z0-9_.-]{1,64}):([a-z+]{1,40}):([0-9a-fA-F]{64})$/;

/** `name:scope[+scope]:sha256hex`, comma-separated; `npm run api-key` prints entries. */
export function parseApiKeys(raw: string | undefined): Parsed<ApiKeyEntry[]> {
  const entries = splitList(raw, /,/);
  if (entries.length === 0) return { problem: 'is not set: no server-side caller can be authenticated' };
  const parsed: ApiKeyEntry[] = [];
  for (const [index, entry] of entries.entries()) {
    const match = entry.match(API_KEY_ENTRY);
    const scopes = match ? match[2]!.split('+') : [];
    if (!match || !scopes.every((scope): scope is ApiScope => (API_SCOPES as string[]).includes(scope))) {
      return { problem: `entry #${index + 1} must be name:scope[+scope]:sha256-hex with scopes app, users, admin (npm run api-key prints one)` };
    }
    const digest = new Uint8Array(32);
    for (let i = 0; i < 32; i++) digest[i] = parseInt(match[3]!.slice(i * 2, i * 2 + 2), 16);
    parsed.push({ name: match[1]!, scopes: new Set(scopes), digest });
  }
  return { value: parsed };
}

/** Twitch's rule for an EventSub transport secret: 10 to 100 ASCII characters. */
export function parseEventSubSecret(raw: string | undefined): Parsed<string | null> {
  if (!raw?.trim()) return { value: null };
  const secret = raw.trim();
  return /^[\x21-\x7e]{10,100}$/.test(secret) ? { value: secret } : { problem: "must be 10 to 100 ASCII characters without spaces (Twitch's rule)" };
}

/** HELIX_PROXY_ALLOW: comma-separated `METHOD /path-prefix` rules, e.g. `POST /chat/messages, PATCH /channels`. */
export function parseHelixProxyAllow(raw: string | undefined): Parsed<{ method: string; prefix: string }[]> {
  const rules: { method: string; prefix: string }[] = [];
  for (const entry of splitList(raw, /,/)) {
    const match = /^(GET|POST|PUT|PATCH|DELETE)\s+(\/[A-Za-z0-9_\-/]*)$/.exec(entry);
    if (!match) return { problem: `has an entry that is not "METHOD /path-prefix": ${entry.slice(0, 40)}` };
    rules.push({ method: match[1]!, prefix: match[2]!.replace(/\/+$/, '') || '/' });
  }
  return { value: rules };
}

/** NOTIFY_URL: an https URL (plain http on loopback), path allowed; unset turns notifications off. */
export function parseNotifyUrl(raw: string | undefined): Parsed<string | null> {
  if (!raw?.trim()) return { value: null };
  return parseBaseUrl(raw, '');
}

/** NOTIFY_SECRET: required with NOTIFY_URL, at least 32 characters. */
export function parseNotifySecret(raw: string | undefined, url: Parsed<string | null>): Parsed<string | null> {
  if (!('value' in url) || url.value === null) return { value: null };
  const secret = required(raw);
  if ('problem' in secret) return { problem: 'is not set, but NOTIFY_URL is: events are signed with it' };
  return secret.value.length >= 32 ? secret : { problem: 'must be at least 32 characters' };
}

/** CF_ACCOUNT_ID: the 32-hex-digit account id; unset leaves the console without metrics charts. */
export function parseAccountId(raw: string | undefined): Parsed<string | null> {
  if (!raw?.trim()) return { value: null };
  return /^[0-9a-f]{32}$/.test(raw.trim()) ? { value: raw.trim() } : { problem: 'must be the 32 hexadecimal digits of your Cloudflare account id' };
}

/** CF_ANALYTICS_TOKEN: required with CF_ACCOUNT_ID (an API token with Account Analytics Read). */
export function parseAnalyticsToken(raw: string | undefined, chartOn: boolean): Parsed<string | null> {
  if (!chartOn) return { value: null };
  const token = required(raw);
  return 'problem' in token ? { problem: 'is not set, but CF_ACCOUNT_ID is: the console reads metrics with it' } : token;
}

/** METRICS_DATASET: the dataset METRICS writes to (it goes into SQL, so a bare name only); read only with CF_ACCOUNT_ID. */
export function parseDataset(raw: string | undefined, chartOn: boolean): Parsed<string> {
  if (!chartOn) return { value: '' };
  const name = raw?.trim() || 'twitch_token_broker';
  return /^[A-Za-z_][A-Za-z0-9_]{0,63}$/.test(name) ? { value: name } : { problem: 'must be a dataset name: letters, digits and _' };
}

/** Enough for a bot restarted a few times over with several workers each; few enough to bound what one API key can hold open. */
export const DEFAULT_LIVE_TOKEN_MAX_SOCKETS = 32;

/** LIVE_TOKEN_MAX_SOCKETS: a whole number from 1 to 1000; unset means 32. */
export function parseLiveTokenMaxSockets(raw: string | undefined): Parsed<number> {
  const text = raw?.trim() || String(DEFAULT_LIVE_TOKEN_MAX_SOCKETS);
  const count = /^\d{1,4}$/.test(text) ? Number(text) : NaN;
  return count >= 1 && count <= 1000 ? { value: count } : { problem: 'must be a whole number from 1 to 1000' };
}

export function parsePublicUrl(raw: string | undefined): Parsed<string | null> {
  if (!raw?.trim()) return { value: null };
  const parsed = parseBaseUrl(raw, '');
  return 'problem' in parsed ? parsed : { value: new URL(parsed.value).origin };
}
