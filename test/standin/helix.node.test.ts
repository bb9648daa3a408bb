import { beforeEach, describe, expect, it } from 'vitest';
import { createTwitchStandin, type TwitchStandin } from '../../standin/index';

/** The stand-in's Helix: what twurple's ApiClient meets in the tests, checked the way Helix checks. */

const CLIENT_ID = 'standin-client-id';
let standin: TwitchStandin;

beforeEach(() => {
  standin = createTwitchStandin();
  standin.state.addClients([{ clientId: 'other-client', clientSecret: 'other-secret' }]);
});

const userToken = (userId: string, scopes: string[] = [], clientId = CLIENT_ID) => standin.state.issueUserGrant(clientId, userId, scopes).accessToken.token;
const appToken = () => standin.state.issueAppAccessToken(CLIENT_ID).token;

function helix(path: string, headers: Record<string, string>): Promise<Response> {
  return standin.fetch(new Request(`https://api.twitch.tv${path}`, { headers }));
}

const as = (token: string, clientId = CLIENT_ID) => ({ Authorization: `Bearer ${token}`, 'Client-Id': clientId });

describe('Helix GET /users', () => {
  it("names the token's own user, with the email only for user:read:email", async () => {
    const withEmail = await (await helix('/helix/users', as(userToken('100001', ['user:read:email'])))).json();
    expect(withEmail).toEqual({
      data: [expect.objectContaining({ id: '100001', login: 'streamer_alice', display_name: 'Streamer_Alice', email: 'alice@example.test' })],
    });
    const withoutEmail = (await (await helix('/helix/users', as(userToken('100001')))).json()) as { data: Record<string, unknown>[] };
    expect(withoutEmail.data[0]).not.toHaveProperty('email');
  });

  it('looks users up by id and login with an app token, leaving unknown ones out', async () => {
    const response = await helix('/helix/users?id=100002&login=viewer_carol&id=999', as(appToken()));
    expect(response.status).toBe(200);
    const body = (await response.json()) as { data: { id: string; email?: string }[] };
    expect(body.data.map((user) => user.id)).toEqual(['100002', '100003']);
    expect(body.data.every((user) => user.email === undefined)).toBe(true);
  });

  it("answers twurple's mock-mode path /mock/users like /helix/users", async () => {
    const response = await helix('/mock/users?id=100001', as(appToken()));
    expect(((await response.json()) as { data: { login: string }[] }).data[0]!.login).toBe('streamer_alice');
  });

  it('refuses an app token without ids, and more than 100 ids and logins', async () => {
    const none = await helix('/helix/users', as(appToken()));
    expect(none.status).toBe(400);
    const tooMany = await helix(`/helix/users?${Array.from({ length: 101 }, (_, i) => `id=${i + 1}`).join('&')}`, as(appToken()));
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ error: 'Bad Request', status: 400 });
  });

  it.each([
    [
      'a token expired early at the stand-in',
      () => {
        const token = userToken('100001');
        standin.state.expireAccessTokens({ accessToken: token });
        return as(token);
      },
      'Invalid OAuth token',
    ],
    [
      'a revoked token',
      () => {
        const token = userToken('100001');
        standin.state.disconnectUser('100001');
        return as(token);
      },
      'Invalid OAuth token',
    ],
    ['an unknown token', () => as('not-a-token-anyone-issued'), 'Invalid OAuth token'],
    ["another client's Client-Id", () => as(userToken('100001'), 'other-client'), 'Client ID and OAuth token do not match'],
    ["another client's token", () => as(userToken('100001', [], 'other-client')), 'Client ID and OAuth token do not match'],
    ['no Client-Id', () => ({ Authorization: `Bearer ${appToken()}` }), 'Missing Client ID or OAuth token'],
    ['no token', () => ({ 'Client-Id': CLIENT_ID }), 'Missing Client ID or OAuth token'],
  ])("answers 401 in Helix's shape for %s", async (_case, headers, message) => {
    const response = await helix('/helix/users?id=100001', headers());
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({ error: 'Unauthorized', status: 401, message });
  });

  it('keeps Helix calls out of the identity call log', async () => {
    await helix('/helix/users?id=100001', as(appToken()));
    expect(standin.state.calls.summary().calls).toEqual([]);
  });
});
