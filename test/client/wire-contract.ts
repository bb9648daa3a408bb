/**
 * Compile-time check that the client's wire types (client/types.ts, published with the package)
 * and the server's own types are the same shapes: `npm run typecheck` fails when they drift.
 * The client declares its own copy so its `.d.ts` carries no Worker types.
 */
import type { WorkerEntrypoint } from 'cloudflare:workers';
import type { AppTokenBody, BrokerEvent, BrokerRpcErrorBody, TokenBrokerRpc, UserTokenBody } from '../../client/types';
import type { BrokerEvent as ServerBrokerEvent } from '../../src/notify/broker-event';
import type { RpcErrorBody, TokenBroker } from '../../src/rpc';
import type { AppTokenBody as ServerAppTokenBody, UserTokenBody as ServerUserTokenBody } from '../../src/tokens/token-answers';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;

/** Identical types, stricter than `Same`: an added optional field or a parameter made required differs too. */
type Identical<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;

/** Each method as its parameter list and result, so the comparison is exact (methods compare bivariantly). */
type Signatures<T> = { [K in keyof T]: T[K] extends (...args: infer P) => infer R ? { parameters: P; result: R } : T[K] };

/** What the entrypoint adds to WorkerEntrypoint: the methods another Worker can call. */
type RpcMethodsOf<T> = Omit<T, keyof WorkerEntrypoint>;

export const userTokenBodyMatches: Same<UserTokenBody, ServerUserTokenBody> = true;
export const appTokenBodyMatches: Same<AppTokenBody, ServerAppTokenBody> = true;
export const rpcErrorBodyMatches: Same<BrokerRpcErrorBody, RpcErrorBody> = true;
export const brokerEventMatches: Same<BrokerEvent, ServerBrokerEvent> = true;
export const tokenBrokerRpcMatches: Identical<Signatures<RpcMethodsOf<TokenBroker>>, Signatures<TokenBrokerRpc>> = true;
