import { Hono, type Context } from 'hono';
import { parseFaultRequest } from './faults';
import { jsonResponse, twitchError, type StandinEnv } from './http';
import { InvalidInputError, isJsonObject, optionalBoolean, optionalNumber, optionalString, optionalStringArray, requiredString } from './json-input';
import type { StandinClient, StandinConfig, StandinUser, StandinUserInput } from './model';
import type { StandinState } from './state';
import { userTokenBody } from './token';

// Bulk seeding is for load tests; a cap keeps a typo from eating the test process's memory.
const MAX_BULK_USERS = 1_000_000;
const MAX_TTL_SECONDS = 10 * 365 * 24 * 3600;

async function readJsonObject(c: Context<StandinEnv>): Promise<Record<string, unknown>> {
  const text = await c.req.text();
  if (text.trim() === '') return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new InvalidInputError('body must be JSON');
  }
  if (!isJsonObject(parsed)) throw new InvalidInputError('body must be a JSON object');
  return parsed;
}

function readUserInputs(body: Record<string, unknown>): StandinUserInput[] {
  const users = body.users;
  if (!Array.isArray(users)) throw new InvalidInputError('users must be an array');
  return users.map((user): StandinUserInput => {
    if (!isJsonObject(user)) throw new InvalidInputError('each user must be an object');
    const displayName = optionalString(user, 'displayName');
    const email = optionalString(user, 'email');
    return {
      id: requiredString(user, 'id'),
      login: requiredString(user, 'login'),
      ...(displayName === undefined ? {} : { displayName }),
      ...(email === undefined ? {} : { email }),
    };
  });
}

function readClientInputs(body: Record<string, unknown>): StandinClient[] {
  const clients = body.clients;
  if (!Array.isArray(clients)) throw new InvalidInputError('clients must be an array');
  return clients.map((client): StandinClient => {
    if (!isJsonObject(client)) throw new InvalidInputError('each client must be an object');
    return {
      clientId: requiredString(client, 'clientId'),
      clientSecret: requiredString(client, 'clientSecret'),
      redirectUris: optionalStringArray(client, 'redirectUris') ?? [],
    };
  });
}

function readConfigChange(body: Record<string, unknown>): Partial<StandinConfig> {
  const isTtl = (seconds: number) => seconds >= 0 && seconds <= MAX_TTL_SECONDS;
  const change: Partial<StandinConfig> = {};
  const userTtl = optionalNumber(body, 'userAccessTokenTtlSeconds', isTtl);
  const appTtl = optionalNumber(body, 'appAccessTokenTtlSeconds', isTtl);
  const codeTtl = optionalNumber(body, 'authorizationCodeTtlSeconds', isTtl);
  const refreshRevokes = optionalBoolean(body, 'refreshRevokesPreviousAccessToken');
  if (userTtl !== undefined) change.userAccessTokenTtlSeconds = userTtl;
  if (appTtl !== undefined) change.appAccessTokenTtlSeconds = appTtl;
  if (codeTtl !== undefined) change.authorizationCodeTtlSeconds = codeTtl;
  if (refreshRevokes !== undefined) change.refreshRevokesPreviousAccessToken = refreshRevokes;
  return change;
}

function clientRedirects(state: StandinState): { clientId: string; redirectUris: string[] }[] {
  return state.listClients().map(({ clientId, redirectUris }) => ({ clientId, redirectUris }));
}

/** The /_standin control API: JSON in, JSON out, for tests and for a person poking at the stand-in. */
export function controlRoutes(state: StandinState): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.post('/reset', () => {
    state.reset();
    return jsonResponse({ reset: true });
  });

  routes.get('/calls', () => jsonResponse(state.calls.summary()));
  routes.get('/api-calls', () => jsonResponse({ calls: state.apiCalls.list() }));

  routes.get('/faults', () => jsonResponse({ faults: state.faults.list() }));
  routes.post('/faults', async (c) => {
    const text = await c.req.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new InvalidInputError('body must be JSON');
    }
    // One fault object, or an array of them to queue in order.
    const faults = (Array.isArray(parsed) ? parsed : [parsed]).map(parseFaultRequest);
    return jsonResponse({ queued: state.faults.enqueue(faults) });
  });
  routes.delete('/faults', () => jsonResponse({ cleared: state.faults.clear() }));

  routes.get('/config', () => jsonResponse({ config: state.currentConfig(), clients: clientRedirects(state) }));
  routes.post('/config', async (c) => {
    const body = await readJsonObject(c);
    const change = readConfigChange(body);
    const redirectUris = optionalStringArray(body, 'redirectUris');
    const clientId = optionalString(body, 'client_id');
    if (clientId !== undefined && state.findClient(clientId) === undefined) return twitchError(404, 'client does not exist');
    const config = state.updateConfig(change);
    if (redirectUris !== undefined) state.setRedirectUris(redirectUris, clientId);
    return jsonResponse({ config, clients: clientRedirects(state) });
  });

  routes.post('/expire', async (c) => {
    const body = await readJsonObject(c);
    const accessToken = optionalString(body, 'access_token');
    const userId = optionalString(body, 'user_id');
    const app = optionalBoolean(body, 'app');
    if (accessToken === undefined && userId === undefined && app !== true) {
      throw new InvalidInputError('name access_token, user_id or app: true');
    }
    const expired = state.expireAccessTokens({
      ...(accessToken === undefined ? {} : { accessToken }),
      ...(userId === undefined ? {} : { userId }),
      ...(app === undefined ? {} : { app }),
    });
    return jsonResponse({ expired });
  });

  routes.post('/disconnect', async (c) => {
    const body = await readJsonObject(c);
    const revoked = state.disconnectUser(requiredString(body, 'user_id'), optionalString(body, 'client_id'));
    return jsonResponse({ revoked });
  });

  routes.get('/users', () => jsonResponse({ users: state.listUsers() }));
  routes.post('/users', async (c) => {
    const added = state.addUsers(readUserInputs(await readJsonObject(c)));
    return jsonResponse({ added: added.length, users: added });
  });
  routes.post('/users/bulk', async (c) => {
    const body = await readJsonObject(c);
    const count = optionalNumber(body, 'count', (n) => Number.isInteger(n) && n >= 1 && n <= MAX_BULK_USERS);
    if (count === undefined) throw new InvalidInputError('missing count');
    const startId = optionalNumber(body, 'startId', (n) => Number.isSafeInteger(n) && n >= 1);
    const range = state.addGeneratedUsers(count, startId);
    return jsonResponse({ added: count, ...range });
  });

  routes.get('/clients', () => jsonResponse({ clients: state.listClients() }));
  routes.post('/clients', async (c) => {
    state.addClients(readClientInputs(await readJsonObject(c)));
    return jsonResponse({ clients: state.listClients() });
  });

  routes.post('/grants', async (c) => {
    const body = await readJsonObject(c);
    const scopes = optionalStringArray(body, 'scopes') ?? [];
    const clientId = optionalString(body, 'client_id') ?? state.listClients()[0]?.clientId;
    if (clientId === undefined || state.findClient(clientId) === undefined) return twitchError(404, 'client does not exist');
    const issueFor = (user: StandinUser) => userTokenBody(state.issueUserGrant(clientId, user.id, scopes));

    const batchUserIds = optionalStringArray(body, 'user_ids');
    if (batchUserIds === undefined) {
      const userId = requiredString(body, 'user_id');
      const user = state.findUser(userId);
      if (user === undefined) return twitchError(404, `unknown user ${userId}`);
      return jsonResponse(issueFor(user));
    }
    // Batch form for seeding thousands of users: all ids are checked before any grant is issued.
    const users: StandinUser[] = [];
    for (const userId of batchUserIds) {
      const user = state.findUser(userId);
      if (user === undefined) return twitchError(404, `unknown user ${userId}`);
      users.push(user);
    }
    return jsonResponse({ grants: users.map((user) => ({ user_id: user.id, ...issueFor(user) })) });
  });

  routes.get('/secrets', () => jsonResponse({ secrets: state.knownSecrets() }));
  routes.get('/refresh-token-reuse', () => {
    const attempts = state.listRefreshTokenReuses();
    // `reused` is the plain list tests assert on (one entry per attempt); `attempts` says whose and when.
    return jsonResponse({ reused: attempts.map((attempt) => attempt.refreshToken), attempts });
  });

  return routes;
}
