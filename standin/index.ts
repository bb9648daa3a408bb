import type { Hono } from 'hono';
import { buildStandinApp } from './app';
import type { StandinEnv } from './http';
import type { StandinOptions } from './model';
import { OidcSigner } from './oidc';
import { StandinState } from './state';

/** One running stand-in: a fetch function over its own in-memory state. */
export interface TwitchStandin {
  /** Answers a request as id.twitch.tv would, whatever its host name. A `reset` fault makes it reject with a TypeError. */
  fetch(request: Request): Promise<Response>;
  /** The in-memory model, for tests running in the same process. */
  state: StandinState;
  /** The Hono app behind `fetch`; the Node host serves it with the socket in its env. */
  app: Hono<StandinEnv>;
}

/** Creates a stand-in for Twitch's identity server with its own clients, users, tokens and faults. */
export function createTwitchStandin(options: StandinOptions = {}): TwitchStandin {
  const state = new StandinState(options);
  const app = buildStandinApp(state, new OidcSigner());
  return {
    // No socket here, so a `reset` fault surfaces as the TypeError a failed fetch would throw.
    fetch: async (request) => app.fetch(request, {}),
    state,
    app,
  };
}

export { StandinState } from './state';
export type { ExpireSelector, RevocationCount, StandinSnapshot } from './state';
export type {
  AccessTokenRecord,
  AuthorizationCodeRecord,
  AuthorizationCodeRequest,
  GrantRecord,
  RefreshTokenRecord,
  RefreshTokenReuse,
  RefreshTokenStatus,
  RegisteredClient,
  StandinClient,
  StandinConfig,
  StandinOptions,
  StandinUser,
  StandinUserInput,
  UserTokenIssue,
} from './model';
export { DEFAULT_CLIENT, DEFAULT_CONFIG, DEFAULT_USERS } from './model';
export type { CallCounts, CallLogSummary, CallRecord } from './call-log';
export type { FaultKind, FaultPhase, QueuedFault } from './faults';
export type { StandinEnv, StandinHostBindings } from './http';
