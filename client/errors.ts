import type { BrokerErrorBody, BrokerRpcErrorBody } from './types.js';

/**
 * A refusal from the broker, keeping its wire `error` as `code`, its `error_description` and its
 * status. The message never holds a token or key: it is the code and the broker's description.
 */
export class BrokerError extends Error {
  /** The HTTP status (for RPC, the status the same failure has over HTTP). */
  readonly status: number;
  /** The broker's `error` code, e.g. `not_found`, `unauthorized`, `invalid_request`. */
  readonly code: string;
  readonly description: string;
  /** The error body as the broker sent it. */
  readonly body: BrokerErrorBody;

  constructor(status: number, body: BrokerErrorBody) {
    super(`${body.error}: ${body.error_description}`);
    this.name = 'BrokerError';
    this.status = status;
    this.code = body.error;
    this.description = body.error_description;
    this.body = body;
  }
}

/**
 * The user's grant is gone at Twitch (`reauthorization_required`): only a new login helps. Send the
 * user to `authorizeUrl`, or in a browser call `client.login({ scope: error.scopes })`.
 */
export class ReauthorizationRequiredError extends BrokerError {
  /** The broker's /authorize, asking for `scopes`. */
  readonly authorizeUrl: string;
  /** The scopes the new login should ask for: those the caller asked for, and the ones it last saw granted. */
  readonly scopes: string[];

  constructor(status: number, body: BrokerErrorBody, authorizeUrl: string, scopes: string[]) {
    super(status, body);
    this.name = 'ReauthorizationRequiredError';
    this.authorizeUrl = authorizeUrl;
    this.scopes = scopes;
  }
}

/**
 * The user's grant lacks scopes the caller asked for (`insufficient_scope` with `missing_scopes`).
 * `authorizeUrl` is the broker's own answer: its /authorize asking for the stored and the missing scopes.
 */
export class InsufficientScopeError extends BrokerError {
  readonly missingScopes: string[];
  readonly authorizeUrl: string;
  /** The scopes `authorizeUrl` asks for (for `client.login({ scope: error.scopes })` in a browser). */
  readonly scopes: string[];

  constructor(status: number, body: BrokerErrorBody, authorizeUrl: string) {
    super(status, body);
    this.name = 'InsufficientScopeError';
    this.missingScopes = [...(body.missing_scopes ?? [])];
    this.authorizeUrl = authorizeUrl;
    this.scopes = scopeParamOf(authorizeUrl);
  }
}

/** The browser has no session, or its session ended (`401 unauthorized` on /token): call `client.login()`. */
export class NotLoggedInError extends BrokerError {
  constructor(status: number, body: BrokerErrorBody) {
    super(status, body);
    this.name = 'NotLoggedInError';
  }
}

/** Twitch is failing and the broker holds no valid token (`503`): try again after `retryAfterSeconds`. */
export class BrokerUnavailableError extends BrokerError {
  readonly retryAfterSeconds: number;

  constructor(status: number, body: BrokerErrorBody, retryAfterSeconds: number) {
    super(status, body);
    this.name = 'BrokerUnavailableError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The login came back with `?error=` (e.g. the user clicked "Cancel" on Twitch: `access_denied`). */
export class LoginFailedError extends Error {
  readonly code: string;
  readonly description: string;

  constructor(code: string, description: string) {
    super(`${code}: ${description}`);
    this.name = 'LoginFailedError';
    this.code = code;
    this.description = description;
  }
}

/** What turns an error body into a typed error besides the body itself. */
export interface ErrorContext {
  /** The broker's origin, to resolve a relative `authorize_url` and to build one for re-logins. */
  baseUrl?: string;
  /** The scopes a re-login should ask for (see `ReauthorizationRequiredError.scopes`). */
  scopes?: readonly string[];
  /** A browser `/token` call: `unauthorized` then means "log in". */
  sessionCall?: boolean;
  /** Seconds from `Retry-After` (or the RPC's `retry_after`). */
  retryAfterSeconds?: number;
}

/** The typed error for an error body. */
export function brokerErrorFrom(status: number, body: BrokerErrorBody, context: ErrorContext = {}): BrokerError {
  const base = context.baseUrl ?? '';
  switch (body.error) {
    case 'reauthorization_required': {
      const scopes = [...new Set(context.scopes ?? [])];
      const query = scopes.length > 0 ? `?${new URLSearchParams({ scope: scopes.join(' ') })}` : '';
      return new ReauthorizationRequiredError(status, body, `${base}/authorize${query}`, scopes);
    }
    case 'insufficient_scope':
      // An API key lacking a route's scope is also `insufficient_scope`, but names no authorize_url:
      // that is the operator's problem, not the user's, so it stays a plain BrokerError.
      if (typeof body.authorize_url === 'string') {
        const url = body.authorize_url.startsWith('/') ? `${base}${body.authorize_url}` : body.authorize_url;
        return new InsufficientScopeError(status, body, url);
      }
      return new BrokerError(status, body);
    case 'unauthorized':
      return context.sessionCall ? new NotLoggedInError(status, body) : new BrokerError(status, body);
    case 'temporarily_unavailable':
      return new BrokerUnavailableError(status, body, context.retryAfterSeconds ?? 1);
    default:
      return new BrokerError(status, body);
  }
}

/** Whether a parsed JSON value is an error body. */
export function isErrorBody(value: unknown): value is BrokerErrorBody {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return typeof record.error === 'string' && typeof record.error_description === 'string';
}

/**
 * Turns an error thrown by the broker's `TokenBroker` RPC entrypoint (its message is the JSON of
 * `{status, error, error_description, retry_after?, missing_scopes?, authorize_url?}`) into the
 * same typed error the HTTP client throws. Null for anything else (a network failure, a bug):
 * `throw parseBrokerRpcError(error) ?? error`.
 */
export function parseBrokerRpcError(error: unknown, options: { baseUrl?: string; scopes?: readonly string[] } = {}): BrokerError | null {
  const message = error instanceof Error ? error.message : typeof error === 'string' ? error : null;
  if (message === null || !message.startsWith('{')) return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(message);
  } catch {
    return null;
  }
  if (!isErrorBody(parsed)) return null;
  const body = parsed as BrokerRpcErrorBody;
  if (typeof body.status !== 'number') return null;
  const { status, retry_after: retryAfter, ...wireBody } = body;
  return brokerErrorFrom(status, wireBody, {
    ...(options.baseUrl === undefined ? {} : { baseUrl: trimBaseUrl(options.baseUrl) }),
    ...(options.scopes === undefined ? {} : { scopes: options.scopes }),
    ...(typeof retryAfter === 'number' ? { retryAfterSeconds: retryAfter } : {}),
  });
}

/** A base URL without its trailing slashes. */
export const trimBaseUrl = (baseUrl: string): string => baseUrl.replace(/\/+$/, '');

/** The `scope` parameter of a URL (absolute or relative), as a list. */
function scopeParamOf(url: string): string[] {
  try {
    return (new URL(url, 'http://relative.invalid').searchParams.get('scope') ?? '').split(' ').filter(Boolean);
  } catch {
    return [];
  }
}
