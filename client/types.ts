/**
 * The broker's wire shapes, as the broker's docs/endpoints.md documents them. They are declared here, not
 * imported from `src/`, so the published `.d.ts` carries no Worker types; `test/client/wire-contract.ts`
 * makes `npm run typecheck` fail when these and the server's own types drift apart.
 */

/** The body of GET /token and GET /token/users/:userId (and of the RPC `getUserToken`). */
export interface UserTokenBody {
  access_token: string;
  token_type: 'bearer';
  /** Seconds left when the broker answered. */
  expires_in: number;
  /** Unix seconds. */
  expires_at: number;
  /** Unix seconds: when Twitch issued this access token. */
  obtained_at: number;
  scopes: string[];
  user_id: string;
  login: string;
  client_id: string;
}

/** The body of GET /token/app (and of the RPC `getAppToken`). */
export interface AppTokenBody {
  access_token: string;
  token_type: 'bearer';
  expires_in: number;
  /** Unix seconds. */
  expires_at: number;
  client_id: string;
}

/** The body of POST /session. */
export interface SessionBody {
  session_token: string;
  token_type: 'bearer';
  expires_in: number;
  user_id: string;
}

/** The fields of GET /health this package reads. */
export interface HealthBody {
  status: 'ok';
  /** Null while the broker's TWITCH_CLIENT_ID is missing or malformed. */
  client_id: string | null;
  configuration: 'complete' | 'incomplete';
  problems: string[];
}

/** Every error the broker answers: `{error, error_description}`, plus fields some errors add. */
export interface BrokerErrorBody {
  error: string;
  error_description: string;
  /** `insufficient_scope` on a user token: the scopes the grant lacks. */
  missing_scopes?: string[];
  /** `insufficient_scope` on a user token: the broker's /authorize asking for the stored and the missing scopes. */
  authorize_url?: string;
}

/** What a failed `TokenBroker` RPC call's Error message holds, as JSON (see `parseBrokerRpcError`). */
export interface BrokerRpcErrorBody extends BrokerErrorBody {
  status: number;
  retry_after?: number;
}

/** An event the broker POSTs to NOTIFY_URL (check its `Broker-Signature` with `verifyBrokerSignature`). */
export interface BrokerEvent {
  id: string;
  type: 'user.authorized' | 'user.revoked' | 'user.scopes_changed' | 'app_token.rotated';
  /** ISO 8601. */
  occurred_at: string;
  user_id?: string;
  [field: string]: unknown;
}

/** Options of the RPC `getAppToken`: what `force_refresh=true` is on GET /token/app. */
export interface BrokerRpcAppTokenOptions {
  forceRefresh?: boolean;
}

/** Options of the RPC `getUserToken`: what `scope=` and `force_refresh=true` are on GET /token/users/:userId. */
export interface BrokerRpcUserTokenOptions {
  /** Scopes the caller needs, as a list or space-separated. */
  scope?: string | readonly string[];
  forceRefresh?: boolean;
}

/**
 * The broker's `TokenBroker` RPC entrypoint as another Worker of the same account sees it over a
 * service binding (`interface Env { BROKER: TokenBrokerRpc }`). Declared here without Worker types,
 * like the bodies above; `test/client/wire-contract.ts` fails `npm run typecheck` when the
 * entrypoint and this type drift apart. Failures reject with an Error whose message is a
 * `BrokerRpcErrorBody` as JSON: `throw parseBrokerRpcError(error) ?? error` makes it a typed error.
 */
export interface TokenBrokerRpc {
  /** The app access token: the body of GET /token/app. */
  getAppToken(options?: BrokerRpcAppTokenOptions): Promise<AppTokenBody>;
  /** A stored user's access token: the body of GET /token/users/:userId. */
  getUserToken(userId: string, options?: BrokerRpcUserTokenOptions): Promise<UserTokenBody>;
}
