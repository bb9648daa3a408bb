/**
 * `twitch-token-broker-client`: the broker from any JavaScript runtime (browsers, Workers, Node 20+,
 * Deno, Bun). Only fetch, Web Crypto, btoa and, for the browser login, the window are used.
 * `TokenBrokerRpc` types a service binding to the broker's RPC entrypoint.
 */
export { createBrokerClient } from './broker-client.js';
export { verifyBrokerSignature } from './broker-signature.js';
export { LIVE_DISPLACED_CLOSE_CODE, watchUserToken } from './watch-user-token.js';
export type { LiveSocket, TokenWatch, WatchUserTokenOptions } from './watch-user-token.js';
export type { VerifyBrokerSignatureOptions } from './broker-signature.js';
export type { BrokerClient, BrokerClientOptions, BrowserWindow, LoginOptions, ScopeInput, UserTokenOptions } from './broker-client.js';
export {
  BrokerError,
  BrokerUnavailableError,
  InsufficientScopeError,
  LoginFailedError,
  NotLoggedInError,
  ReauthorizationRequiredError,
  parseBrokerRpcError,
} from './errors.js';
export type {
  AppTokenBody,
  BrokerErrorBody,
  BrokerEvent,
  BrokerRpcAppTokenOptions,
  BrokerRpcErrorBody,
  BrokerRpcUserTokenOptions,
  HealthBody,
  SessionBody,
  TokenBrokerRpc,
  UserTokenBody,
} from './types.js';
