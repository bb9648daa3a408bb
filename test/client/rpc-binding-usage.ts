/**
 * Compile-time check of the two ways client/README.md types a service binding to the broker's
 * `TokenBroker` entrypoint: `npm run typecheck` fails if either stops giving the typed bodies.
 */
import { parseBrokerRpcError, type AppTokenBody, type TokenBrokerRpc, type UserTokenBody } from '../../client/index';

/** The binding typed by the client package alone. */
interface PlainEnv {
  BROKER: TokenBrokerRpc;
}

/** The binding typed with @cloudflare/workers-types' `Service`, which wants an entrypoint-branded type. */
interface ServiceEnv {
  BROKER: Service<TokenBrokerRpc & Rpc.WorkerEntrypointBranded>;
}

/** A caller as README shows it: a user token over the plain binding, a typed error on failure. */
export async function userTokenOverPlainBinding(env: PlainEnv): Promise<UserTokenBody> {
  try {
    return await env.BROKER.getUserToken('141981764', { scope: ['chat:edit'] });
  } catch (error) {
    throw parseBrokerRpcError(error) ?? error;
  }
}

/** The app token over a `Service<…>` binding resolves to the same body. */
export async function appTokenOverServiceBinding(env: ServiceEnv): Promise<AppTokenBody> {
  const app: AppTokenBody = await env.BROKER.getAppToken({ forceRefresh: true });
  return app;
}
