import { env } from 'cloudflare:workers';
import { describe, expect, it } from 'vitest';
import type { RpcErrorBody } from '../src/rpc';
import { TEST_BINDINGS } from './test-bindings';
import { login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';
import { useFaultPace } from './support/call-pace';

freshStateForEachTest();
// Its outage tests sit through the broker's deadlines: at the fault tests' pace (test/support/call-pace.ts).
useFaultPace();

type CallerAnswer = { ok: true; body: Record<string, unknown> } | { ok: false; name: string; message: string };

/** Test only: the second Worker (test/rpc-caller), bound in vitest.config.ts. */
const rpcCaller = (env as unknown as { RPC_CALLER: Fetcher }).RPC_CALLER;

/** Asks the second Worker to call the broker over its service binding. */
async function overRpc(path: string, options: unknown = {}): Promise<CallerAnswer> {
  const response = await rpcCaller.fetch(`http://rpc-caller${path}?options=${encodeURIComponent(JSON.stringify(options))}`);
  return response.json<CallerAnswer>();
}

const errorOf = (answer: CallerAnswer): RpcErrorBody => {
  if (answer.ok) throw new Error('expected the call to fail');
  return JSON.parse(answer.message) as RpcErrorBody;
};

describe('the TokenBroker entrypoint over a service binding (no API key)', () => {
  it('hands another Worker the app token, with the same body as GET /token/app', async () => {
    const answer = await overRpc('/app');
    expect(answer).toMatchObject({
      ok: true,
      body: {
        access_token: expect.any(String),
        token_type: 'bearer',
        expires_in: expect.any(Number),
        expires_at: expect.any(Number),
        client_id: TEST_BINDINGS.TWITCH_CLIENT_ID,
      },
    });
    expect((await twitch.counts()).token.client_credentials).toBe(1);
  });

  it("hands another Worker a user's token, with the same body as GET /token/users/:id", async () => {
    await login({ userId: '100001', scope: 'chat:read chat:edit' });
    const answer = await overRpc('/users/100001', { scope: ['chat:edit'] });
    expect(answer).toMatchObject({
      ok: true,
      body: { user_id: '100001', login: 'streamer_alice', token_type: 'bearer', client_id: TEST_BINDINGS.TWITCH_CLIENT_ID },
    });
  });

  it('forces a refresh of a token Twitch killed early', async () => {
    await login({ userId: '100001' });
    const first = await overRpc('/users/100001');
    if (!first.ok) throw new Error(first.message);
    await twitch.expire({ access_token: first.body.access_token as string });
    const forced = await overRpc('/users/100001', { forceRefresh: true });
    expect(forced.ok && forced.body.access_token).not.toBe(first.body.access_token);
    expect(forced.ok).toBe(true);
  });

  it('fails with the HTTP error body: unknown user, missing scope, revoked grant, bad input', async () => {
    expect(errorOf(await overRpc('/users/999999'))).toMatchObject({ status: 404, error: 'not_found' });

    await login({ userId: '100001', scope: 'chat:read' });
    expect(errorOf(await overRpc('/users/100001', { scope: 'chat:read chat:edit' }))).toMatchObject({
      status: 403,
      error: 'insufficient_scope',
      missing_scopes: ['chat:edit'],
      authorize_url: expect.stringContaining('/authorize?scope='),
    });

    expect(errorOf(await overRpc('/users/..%2F..'))).toMatchObject({ status: 400, error: 'invalid_request' });
    expect(errorOf(await overRpc('/users/100001', { scope: '<script>' }))).toMatchObject({ status: 400, error: 'invalid_request' });

    await twitch.disconnect('100001');
    expect(errorOf(await overRpc('/users/100001', { forceRefresh: true }))).toMatchObject({ status: 401, error: 'reauthorization_required' });
  });

  it('passes Retry-After on as retry_after when Twitch is down', async () => {
    await twitch.inject({ path: '/oauth2/token', grantType: 'client_credentials', status: 503, times: -1 });
    const failure = errorOf(await overRpc('/app'));
    expect(failure).toMatchObject({ status: 503, error: 'temporarily_unavailable' });
    expect(failure.retry_after).toBeGreaterThanOrEqual(1);
  });
});
