import { WorkerEntrypoint } from 'cloudflare:workers';
import { getConfig } from './config';
import type { Env } from './env';
import { BrokerError, invalidRequest } from './errors';
import { parseScopes } from './http/scopes';
import { unknownUser } from './errors';
import { appTokenAnswer, userTokenAnswer, type AppTokenBody, type UserTokenBody } from './tokens/token-answers';

/** Options of `getUserToken`: what `scope=` and `force_refresh=true` are over HTTP. */
export interface RpcUserTokenOptions {
  /** Scopes the caller needs, as a list or space-separated. */
  scope?: string | readonly string[];
  forceRefresh?: boolean;
}

/** What a failed call's Error message holds: the HTTP error body plus its status (and Retry-After). */
export interface RpcErrorBody {
  status: number;
  error: string;
  error_description: string;
  retry_after?: number;
  missing_scopes?: string[];
  authorize_url?: string;
}

/**
 * The broker for other Workers of the same account, over a service binding: no API key and no
 * public hop, since only the account's own configuration can bind a Worker to this entrypoint.
 * Answers are the HTTP routes' bodies; failures reject with an Error whose message is the JSON of
 * `RpcErrorBody` (RPC keeps an error's message and nothing else), which the client package's
 * `parseBrokerRpcError` turns back into a typed error.
 */
export class TokenBroker extends WorkerEntrypoint<Env> {
  /** The app access token: the body of GET /token/app. */
  async getAppToken(options: { forceRefresh?: boolean } = {}): Promise<AppTokenBody> {
    return answerOverRpc(() => appTokenAnswer(this.env, { forceRefresh: options?.forceRefresh === true }));
  }

  /** A stored user's access token: the body of GET /token/users/:userId. */
  async getUserToken(userId: string, options: RpcUserTokenOptions = {}): Promise<UserTokenBody> {
    return answerOverRpc(() => {
      if (typeof userId !== 'string' || !/^[0-9]{1,20}$/.test(userId)) throw invalidRequest('userId must be a Twitch user id (digits)');
      const scopes = scopeList(options?.scope);
      return userTokenAnswer(this.env, getConfig(this.env).publicUrl, userId, { scopes, forceRefresh: options?.forceRefresh === true }, unknownUser());
    });
  }
}

/** A scope option as a checked list. */
function scopeList(scope: string | readonly string[] | undefined): string[] {
  if (scope === undefined) return [];
  const text = typeof scope === 'string' ? scope : Array.isArray(scope) ? scope.join(' ') : null;
  const scopes = typeof text === 'string' ? parseScopes(text) : null;
  if (!scopes) throw invalidRequest('scope: malformed scope list');
  return scopes;
}

/** Runs an answer; a BrokerError becomes an Error carrying the HTTP error body as JSON. */
async function answerOverRpc<T>(answer: () => Promise<T>): Promise<T> {
  try {
    return await answer();
  } catch (error) {
    if (!(error instanceof BrokerError)) throw error;
    const retryAfter = Number(error.headers['Retry-After']);
    const body: RpcErrorBody = { status: error.status, ...error.toBody(), ...(retryAfter > 0 ? { retry_after: retryAfter } : {}) };
    throw new Error(JSON.stringify(body));
  }
}
