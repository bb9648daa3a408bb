/**
 * Compile-time check that the client's wire types (client/types.ts, published with the package)
 * and the server's own types are the same shapes: `npm run typecheck` fails when they drift.
 * The client declares its own copy so its `.d.ts` carries no Worker types.
 */
import type { AppTokenBody, BrokerEvent, BrokerRpcErrorBody, UserTokenBody } from '../../client/types';
import type { BrokerEvent as ServerBrokerEvent } from '../../src/notify/broker-event';
import type { RpcErrorBody } from '../../src/rpc';
import type { AppTokenBody as ServerAppTokenBody, UserTokenBody as ServerUserTokenBody } from '../../src/tokens/token-answers';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

export const userTokenBodyMatches: Same<UserTokenBody, ServerUserTokenBody> = true;
export const appTokenBodyMatches: Same<AppTokenBody, ServerAppTokenBody> = true;
export const rpcErrorBodyMatches: Same<BrokerRpcErrorBody, RpcErrorBody> = true;
export const brokerEventMatches: Same<BrokerEvent, ServerBrokerEvent> = true;
