import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import {
  BrokerError,
  BrokerUnavailableError,
  createBrokerClient,
  InsufficientScopeError,
  parseBrokerRpcError,
  ReauthorizationRequiredError,
} from '../../client/index';
import { API_KEY, BROKER } from '../test-bindings';
import { broker, login } from '../support/broker';
import { freshStateForEachTest } from '../support/reset';
import { twitch } from '../support/twitch';
import { useFaultPace } from '../support/call-pace';

/**
 * `twitch-token-broker-client` inside workerd, as another Worker would run it: over HTTP to the
 * broker (its fetch handed the broker's entry point), and `parseBrokerRpcError` on the errors the
 * real `TokenBroker` entrypoint throws across a service binding.
 */

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

/** The client in this Worker, its requests going to the broker's own fetch handler. */
const workerClient = () =>
  createBrokerClient({
    baseUrl: BROKER,
    apiKey: API_KEY,
    fetch: async (input, init) => {
      const url = new URL(input instanceof Request ? input.url : String(input));
      return broker(`${url.pathname}${url.search}`, init);
    },
  });

const rpcCaller = (env as unknown as { RPC_CALLER: Fetcher }).RPC_CALLER;

/** The Error the RPC call threw in the second Worker, rebuilt with its message. */
async function rpcFailure(path: string, options: unknown = {}): Promise<Error> {
  const response = await rpcCaller.fetch(`http://rpc-caller${path}?options=${encodeURIComponent(JSON.stringify(options))}`);
  const answer = await response.json<{ ok: boolean; name?: string; message?: string }>();
  if (answer.ok) throw new Error('expected the RPC call to fail');
  return new Error(answer.message);
}

describe('the client inside a Worker', () => {
  it('fetches and caches the app token (one mint at Twitch, one request to the broker)', async () => {
    const client = workerClient();
    const [first, second] = await Promise.all([client.getAppToken(), client.getAppToken()]);
    expect(second).toEqual(first);
    expect(await client.getAppToken()).toEqual(first);
    expect(first).toMatchObject({ token_type: 'bearer', client_id: 'standin-client-id' });
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it("turns a missing scope into an InsufficientScopeError carrying the broker's absolute authorize_url", async () => {
    await login({ userId: '100001', scope: 'chat:read' });
    const error = await workerClient()
      .getUserToken('100001', { scope: 'chat:edit' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(InsufficientScopeError);
    expect((error as InsufficientScopeError).authorizeUrl).toMatch(new RegExp(`^${BROKER}/authorize\\?scope=`));
  });
});

describe("parseBrokerRpcError on the TokenBroker entrypoint's real errors", () => {
  it('gives the same typed errors as HTTP: not_found, insufficient_scope, reauthorization_required, invalid_request', async () => {
    const notFound = parseBrokerRpcError(await rpcFailure('/users/999999'));
    expect(notFound).toBeInstanceOf(BrokerError);
    expect(notFound).toMatchObject({ status: 404, code: 'not_found' });

    await login({ userId: '100001', scope: 'chat:read' });
    const missing = await rpcFailure('/users/100001', { scope: 'chat:read chat:edit' });
    // Without PUBLIC_URL the broker's URL is relative; the caller can name the broker's origin.
    const relative = parseBrokerRpcError(missing) as InsufficientScopeError;
    expect(relative).toBeInstanceOf(InsufficientScopeError);
    expect(relative.missingScopes).toEqual(['chat:edit']);
    expect(relative.authorizeUrl).toMatch(/^\/authorize\?scope=/);
    expect((parseBrokerRpcError(missing, { baseUrl: `${BROKER}/` }) as InsufficientScopeError).authorizeUrl).toBe(`${BROKER}${relative.authorizeUrl}`);
    expect(relative.scopes.sort()).toEqual(['chat:edit', 'chat:read']);

    await twitch.disconnect('100001');
    const revoked = parseBrokerRpcError(await rpcFailure('/users/100001', { forceRefresh: true }), { baseUrl: BROKER, scopes: ['chat:read'] });
    expect(revoked).toBeInstanceOf(ReauthorizationRequiredError);
    expect((revoked as ReauthorizationRequiredError).authorizeUrl).toBe(`${BROKER}/authorize?scope=chat%3Aread`);

    expect(parseBrokerRpcError(await rpcFailure('/users/..%2F..'))).toMatchObject({ status: 400, code: 'invalid_request' });
  });

  it('keeps retry_after as retryAfterSeconds when Twitch is down', async () => {
    await twitch.inject({ path: '/oauth2/token', grantType: 'client_credentials', status: 503, times: -1 });
    const unavailable = parseBrokerRpcError(await rpcFailure('/app'));
    expect(unavailable).toBeInstanceOf(BrokerUnavailableError);
    expect((unavailable as BrokerUnavailableError).retryAfterSeconds).toBeGreaterThanOrEqual(1);
  });

  it("is null for errors that are not the broker's", () => {
    expect(parseBrokerRpcError(new TypeError('Network connection lost.'))).toBeNull();
    expect(parseBrokerRpcError(new Error('{"not":"ours"}'))).toBeNull();
    expect(parseBrokerRpcError(undefined)).toBeNull();
  });
});
