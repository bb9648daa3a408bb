import type { OpenAPIV3_1 } from 'openapi-types';
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { app } from '../src/app';
import type { Env } from '../src/env';
import { isConsolePath } from '../src/console/console-guard';
import consoleRoutesPage from '../docs/admin-console.md?raw';
import { API_KEY, APP_ONLY_API_KEY, APP_ORIGIN, BROKER, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, exchangeSessionCode, login, loginWithBearer } from './support/broker';
import { freshStateForEachTest } from './support/reset';

/**
 * /openapi.json against the app itself: every route is in it, nothing else is, and what it says
 * about credentials, input constraints and answers is what the routes do. (That the document is
 * valid OpenAPI 3.1 is checked by an independent validator in openapi.node.test.ts.)
 */

type Document = OpenAPIV3_1.Document;
type Operation = OpenAPIV3_1.OperationObject;
type Schema = OpenAPIV3_1.SchemaObject | OpenAPIV3_1.ReferenceObject;

const METHODS = ['get', 'post', 'put', 'patch', 'delete', 'head', 'options'] as const;

let doc: Document;

beforeAll(async () => {
  const response = await broker('/openapi.json');
  expect(response.status).toBe(200);
  doc = await response.json<Document>();
});

/** `/token/users/:userId` as OpenAPI writes it; a trailing wildcard (the Helix proxy) is documented as `{path}`. */
const openApiPath = (honoPath: string) => honoPath.replace(/:([A-Za-z0-9_]+)/g, '{$1}').replace(/\/\*$/, '/{path}');

/** Operations that answer whatever the upstream answers, so they list no success of their own. */
const PROXIED = ['/helix/{path}'];

/** A concrete URL path for a documented one. */
const concrete = (path: string) => path.replace('{userId}', '100001').replace('{path}', 'users');

/** A WebSocket route (it documents 101) is called as one, or it refuses before looking at credentials. */
const upgradeFor = (operation: Operation): Record<string, string> => ('101' in (operation.responses ?? {}) ? { Upgrade: 'websocket' } : {});

/**
 * The app's routes as `METHOD path`, once each; `use()` middleware (method ALL on a wildcard) is not
 * a route. The admin console's HTML routes are listed apart (`console: true`).
 */
function registeredRoutes({ console = false } = {}): string[] {
  const routes = new Set<string>();
  for (const route of app.routes) {
    if (route.method === 'ALL') {
      // An `app.all()` route would answer every method: fail loudly rather than skip it.
      expect(route.path, 'only wildcard middleware may be registered for ALL methods').toMatch(/\*$/);
      continue;
    }
    if (isConsolePath(route.path) === console) routes.add(`${route.method} ${openApiPath(route.path)}`);
  }
  return [...routes].sort();
}

/** Every documented operation with its `METHOD path`. */
function operations(): Array<{ key: string; method: string; path: string; operation: Operation }> {
  return Object.entries(doc.paths ?? {}).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = item?.[method];
      return operation ? [{ key: `${method.toUpperCase()} ${path}`, method, path, operation }] : [];
    }),
  );
}

function operation(method: string, path: string): Operation {
  const found = doc.paths?.[path]?.[method.toLowerCase() as (typeof METHODS)[number]];
  expect(found, `${method} ${path} is documented`).toBeDefined();
  return found!;
}

function resolve<T extends object>(value: T | OpenAPIV3_1.ReferenceObject): T {
  if (!('$ref' in value)) return value;
  const [, , kind, name] = value.$ref.split('/');
  const components = doc.components as Record<string, Record<string, T | OpenAPIV3_1.ReferenceObject>>;
  const target = components[kind!]?.[name!];
  expect(target, `${value.$ref} resolves`).toBeDefined();
  return resolve(target!);
}

/**
 * Where `value` departs from `schema` (the subset of JSON Schema the document uses): missing
 * required fields, fields the schema does not list, wrong types, values outside an enum.
 */
function mismatches(value: unknown, schema: Schema, at = 'body'): string[] {
  const resolved = resolve<OpenAPIV3_1.SchemaObject>(schema);
  if (resolved.anyOf) {
    const each = resolved.anyOf.map((member) => mismatches(value, member as Schema, at));
    return each.some((problems) => problems.length === 0) ? [] : each.flat();
  }
  const types = ([] as string[]).concat((resolved.type as string | string[] | undefined) ?? []);
  const actual = value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
  if (types.length > 0 && !types.includes(actual) && !(actual === 'integer' && types.includes('number'))) {
    return [`${at} is ${actual}, documented as ${types.join('|')}`];
  }
  if (resolved.enum && !resolved.enum.includes(value)) return [`${at} = ${JSON.stringify(value)} is not in ${JSON.stringify(resolved.enum)}`];
  if ('const' in resolved && resolved.const !== value) return [`${at} = ${JSON.stringify(value)}, documented as ${JSON.stringify(resolved.const)}`];
  if (actual === 'array' && resolved.type === 'array' && resolved.items) {
    return (value as unknown[]).flatMap((item, index) => mismatches(item, resolved.items as Schema, `${at}[${index}]`));
  }
  if (actual === 'object' && resolved.type === 'object') {
    const record = value as Record<string, unknown>;
    const properties = (resolved.properties ?? {}) as Record<string, Schema>;
    const additional = resolved.additionalProperties;
    return [
      ...(resolved.required ?? []).filter((name) => !(name in record)).map((name) => `${at}.${name} is missing`),
      ...Object.entries(record).flatMap(([name, field]) => {
        if (properties[name]) return mismatches(field, properties[name], `${at}.${name}`);
        if (additional && typeof additional === 'object') return mismatches(field, additional as Schema, `${at}.${name}`);
        // An object schema that lists no properties (the OpenAPI document itself) takes any.
        return resolved.properties ? [`${at}.${name} is not documented`] : [];
      }),
    ];
  }
  return [];
}

/**
 * The response is one its operation documents: a listed status (or its range, `4XX`), and a body
 * or Location as listed.
 */
async function expectDocumented(method: string, path: string, response: Response): Promise<void> {
  const responses = operation(method, path).responses ?? {};
  const range = `${String(response.status)[0]}XX`;
  const status = String(response.status) in responses ? String(response.status) : range in responses ? range : String(response.status);
  expect(Object.keys(responses), `${method} ${path} documents ${response.status}`).toContain(status);
  const documented = resolve<OpenAPIV3_1.ResponseObject>(responses[status]!);
  if (documented.headers?.Location) expect(response.headers.get('Location')).toBeTruthy();
  const schema = documented.content?.['application/json']?.schema;
  if (schema) {
    expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(mismatches(await response.json(), schema as Schema), `${method} ${path} ${status}`).toEqual([]);
  }
}

describe('GET /openapi.json', () => {
  it('is an OpenAPI 3.1 document served as JSON', async () => {
    const response = await broker('/openapi.json');
    expect(response.headers.get('Content-Type')).toMatch(/^application\/json/);
    expect(doc.openapi).toMatch(/^3\.1\./);
    expect(doc.info.title).toBe('twitch-token-broker');
  });

  it('names the broker as its server: PUBLIC_URL, else the origin it was fetched from', async () => {
    expect(doc.servers).toEqual([{ url: BROKER, description: 'this broker' }]);
    const behindProxy = await broker('/openapi.json', undefined, { ...env, PUBLIC_URL: 'https://tokens.example.com' } as Env);
    expect((await behindProxy.json<Document>()).servers).toEqual([{ url: 'https://tokens.example.com', description: 'this broker' }]);
    // A malformed PUBLIC_URL (reported by /health) does not take the documentation down.
    const misconfigured = await broker('/openapi.json', undefined, { ...env, PUBLIC_URL: 'not a url' } as Env);
    expect(misconfigured.status).toBe(200);
    expect((await misconfigured.json<Document>()).servers).toEqual([{ url: BROKER, description: 'this broker' }]);
  });

  it('lists every route the app registers, with its method', () => {
    const routes = registeredRoutes();
    // The app has routes to check (the walk found them), including this one.
    expect(routes).toContain('GET /openapi.json');
    expect(routes).toContain('GET /token/users/{userId}');
    const documented = operations().map((entry) => entry.key);
    expect(
      routes.filter((route) => !documented.includes(route)),
      'routes missing from the document',
    ).toEqual([]);
  });

  it("leaves the admin console's HTML pages and forms out, and docs/admin-console.md lists each of them", () => {
    const consoleRoutes = registeredRoutes({ console: true });
    expect(consoleRoutes).toContain('POST /admin/console/sign-in');
    expect(consoleRoutes).toContain('POST /admin/console/users/{userId}/drop');
    expect(
      operations()
        .filter(({ path }) => isConsolePath(path))
        .map((entry) => entry.key),
    ).toEqual([]);
    expect(doc.tags?.map((tag) => tag.name)).not.toContain('console');
    // The page writes paths as the README does: `/admin/console/users/:userId`.
    const listed = consoleRoutes.filter((route) => consoleRoutesPage.includes(`| \`${route.replace(/\{([A-Za-z]+)\}/g, ':$1')}`));
    expect(listed, 'console routes docs/admin-console.md lists').toEqual(consoleRoutes);
  });

  it('documents no route the app does not have', () => {
    const routes = registeredRoutes();
    expect(
      operations()
        .map((entry) => entry.key)
        .filter((key) => !routes.includes(key)),
    ).toEqual([]);
  });

  it('gives every operation a summary, a success answer and the error body for any other status', () => {
    for (const { key, path, operation } of operations()) {
      expect(operation.summary, `${key} has a summary`).toBeTruthy();
      if (PROXIED.includes(path)) continue;
      const statuses = Object.keys(operation.responses ?? {});
      expect(
        statuses.some((status) => /^[123]\d\d$/.test(status)),
        `${key} documents its success (101 for a WebSocket)`,
      ).toBe(true);
      const fallback = resolve<OpenAPIV3_1.ResponseObject>(operation.responses!.default!);
      expect(fallback.content?.['application/json']?.schema).toEqual({ $ref: '#/components/schemas/Error' });
    }
    expect(resolve<OpenAPIV3_1.SchemaObject>({ $ref: '#/components/schemas/Error' }).required).toEqual(['error', 'error_description']);
  });

  it('names, at each error status of each operation, the error codes it can answer with (an enum, not a bare string)', () => {
    /** The `error` codes a response body schema allows, across its anyOf members; null where `error` is any string. */
    const codesOf = (schema: Schema): string[] | null => {
      const resolved = resolve<OpenAPIV3_1.SchemaObject>(schema);
      // The Helix proxy's answers may also be Helix's own body (an object with no listed fields).
      const members = (resolved.anyOf ?? [resolved]).map((member) => resolve<OpenAPIV3_1.SchemaObject>(member as Schema)).filter((member) => member.properties);
      const fields = members.map((member) => resolve<OpenAPIV3_1.SchemaObject>(member.properties!.error as Schema));
      return fields.every((field) => field.enum) && fields.length > 0 ? fields.flatMap((field) => field.enum as string[]) : null;
    };
    let checked = 0;
    for (const { key, operation } of operations()) {
      for (const [status, response] of Object.entries(operation.responses ?? {})) {
        if (!/^[45](?:\d\d|XX)$/.test(status)) continue;
        const schema = resolve<OpenAPIV3_1.ResponseObject>(response).content?.['application/json']?.schema;
        expect(schema, `${key} ${status} has a JSON body`).toBeDefined();
        const codes = codesOf(schema as Schema);
        expect(codes, `${key} ${status} lists its error codes`).not.toBeNull();
        for (const code of codes!)
          expect(resolve<OpenAPIV3_1.ResponseObject>(response).description, `${key} ${status} says when ${code} is answered`).toContain(`\`${code}\``);
        checked++;
      }
    }
    expect(checked).toBeGreaterThanOrEqual(60);
    // What every route can answer besides its listed statuses (405, 413, 414, 431, 500) stays any code.
    expect(codesOf({ $ref: '#/components/schemas/Error' })).toBeNull();
  });

  it('documents the token bodies, the error body and its insufficient_scope fields, and the login redirects', () => {
    const schemaOf = (method: string, path: string, status: string) =>
      resolve<OpenAPIV3_1.ResponseObject>(operation(method, path).responses![status]!).content?.['application/json']?.schema;
    expect(schemaOf('GET', '/token', '200')).toEqual({ $ref: '#/components/schemas/UserToken' });
    expect(schemaOf('GET', '/token/users/{userId}', '200')).toEqual({ $ref: '#/components/schemas/UserToken' });
    expect(schemaOf('GET', '/token/app', '200')).toEqual({ $ref: '#/components/schemas/AppToken' });
    expect(schemaOf('GET', '/token', '403')).toEqual({ $ref: '#/components/schemas/InsufficientScopeError' });
    const insufficientScope = resolve<OpenAPIV3_1.SchemaObject>({ $ref: '#/components/schemas/InsufficientScopeError' });
    expect(insufficientScope.required).toEqual(expect.arrayContaining(['error', 'error_description', 'missing_scopes', 'authorize_url']));
    for (const path of ['/authorize', '/callback']) {
      const redirect = resolve<OpenAPIV3_1.ResponseObject>(operation('GET', path).responses!['302']!);
      expect(redirect.headers?.Location, `${path} documents its Location`).toBeDefined();
    }
    expect(Object.keys(doc.components?.securitySchemes ?? {}).sort()).toEqual(['apiKey', 'sessionBearer', 'sessionCookie']);
  });
});

describe('the document matches what the routes do', () => {
  freshStateForEachTest();

  it('declares exactly the credentials each route checks: without them, secured routes refuse and no other answers 401', async () => {
    for (const { key, method, path, operation } of operations()) {
      const response = await broker(concrete(path), { method: method.toUpperCase(), headers: upgradeFor(operation) });
      if ((operation.security ?? []).length > 0) {
        // 403 where a rule that needs no credentials refuses first (the Helix proxy's write allow-list).
        expect([401, 403], `${key} answers ${response.status} without credentials`).toContain(response.status);
        if (method === 'get') expect(response.status, key).toBe(401);
      } else {
        expect(response.status, `${key} answers 401 without declaring security`).not.toBe(401);
      }
      await expectDocumented(method, path, response);
    }
  });

  it('refuses an API key without the scope named in the security requirement', async () => {
    const keyWithout: Record<string, string> = { app: USERS_ONLY_API_KEY, users: APP_ONLY_API_KEY, admin: APP_ONLY_API_KEY };
    const apiKeyOperations = operations().filter(({ operation }) => operation.security?.some((requirement) => 'apiKey' in requirement));
    expect(apiKeyOperations.length).toBeGreaterThanOrEqual(4);
    for (const { key, method, path, operation } of apiKeyOperations) {
      const [scope] = operation.security!.find((requirement) => 'apiKey' in requirement)!.apiKey!;
      expect(scope, `${key} names the API key scope it needs`).toBeDefined();
      const refused = await broker(concrete(path), {
        method: method.toUpperCase(),
        headers: { Authorization: `Bearer ${keyWithout[scope!]}`, ...upgradeFor(operation) },
      });
      expect(refused.status, key).toBe(403);
      await expectDocumented(method, path, refused);
    }
  });

  it('enforces every documented parameter constraint (enum, pattern) with a 400 naming the parameter', async () => {
    const session = await loginWithBearer();
    let checked = 0;
    for (const { key, method, path, operation } of operations()) {
      const headers = { Authorization: `Bearer ${(operation.security ?? []).some((requirement) => 'sessionBearer' in requirement) ? session : API_KEY}` };
      for (const parameter of (operation.parameters ?? []).map((entry) => resolve<OpenAPIV3_1.ParameterObject>(entry))) {
        const schema = resolve<OpenAPIV3_1.SchemaObject>(parameter.schema as Schema);
        if (!schema.enum && !schema.pattern) continue;
        const bad = 'not~valid!';
        const url = parameter.in === 'path' ? path.replace(`{${parameter.name}}`, bad) : `${concrete(path)}?${new URLSearchParams({ [parameter.name]: bad })}`;
        const response = await broker(url, { method: method.toUpperCase(), headers });
        expect(response.status, `${key} with ${parameter.name}=${bad}`).toBe(400);
        const body = await response.clone().json<{ error: string; error_description: string }>();
        expect(body.error).toBe('invalid_request');
        expect(body.error_description.startsWith(`${parameter.name}:`), body.error_description).toBe(true);
        await expectDocumented(method, path, response);
        checked++;
      }
    }
    // force_refresh (3 routes), userId (2), force_verify, code_challenge, code.
    expect(checked).toBeGreaterThanOrEqual(8);
  });

  it('enforces the documented request body of POST /session', async () => {
    const requestBody = resolve<OpenAPIV3_1.RequestBodyObject>(operation('POST', '/session').requestBody!);
    const body = resolve<OpenAPIV3_1.SchemaObject>(requestBody.content['application/json']!.schema as Schema);
    expect(body.required).toEqual(['session_code']);
    for (const [name, property] of Object.entries(body.properties ?? {})) {
      expect(resolve<OpenAPIV3_1.SchemaObject>(property).pattern, `${name} has a pattern`).toBeTruthy();
      const response = await broker('/session', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', Origin: APP_ORIGIN },
        body: JSON.stringify({ session_code: 'abc', [name]: 'not~valid!' }),
      });
      expect(response.status).toBe(400);
      expect((await response.clone().json<{ error_description: string }>()).error_description).toMatch(new RegExp(`^${name}:`));
      await expectDocumented('POST', '/session', response);
    }
  });

  it('answers with the bodies it documents, from login to logout', async () => {
    await expectDocumented('GET', '/health', await broker('/health'));
    // The refusals every route can answer, documented once as each operation's 4XX.
    const tooLong = await broker(`/health?${'a'.repeat(5000)}`);
    expect(tooLong.status).toBe(414);
    await expectDocumented('GET', '/health', tooLong);
    const tooLarge = await broker('/session', { method: 'POST', body: 'x'.repeat(9000), headers: { 'Content-Type': 'application/json', Origin: APP_ORIGIN } });
    expect(tooLarge.status).toBe(413);
    await expectDocumented('POST', '/session', tooLarge);
    await expectDocumented('GET', '/token/app', await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } }));

    const { jar, location, verifier } = await login({ userId: '100001' });
    await expectDocumented('GET', '/authorize', await jar.fetch('/authorize'));
    const exchanged = await exchangeSessionCode(location!.searchParams.get('session_code'), verifier);
    const { session_token: session } = await exchanged.clone().json<{ session_token: string }>();
    await expectDocumented('POST', '/session', exchanged);

    const bearer = { Authorization: `Bearer ${session}` };
    const admin = { Authorization: `Bearer ${API_KEY}` };
    await expectDocumented('GET', '/token', await broker('/token', { headers: bearer }));
    const lacking = await broker('/token?scope=channel:bot', { headers: bearer });
    expect(lacking.status).toBe(403);
    await expectDocumented('GET', '/token', lacking);
    await expectDocumented('GET', '/token/users/{userId}', await broker('/token/users/100001', { headers: admin }));
    await expectDocumented('GET', '/token/users/{userId}', await broker('/token/users/100001?scope=channel:bot', { headers: admin }));
    await expectDocumented('GET', '/token/users/{userId}', await broker('/token/users/999999', { headers: admin }));
    await expectDocumented('GET', '/admin/users/{userId}/events', await broker('/admin/users/100001/events', { headers: admin }));
    await expectDocumented('POST', '/admin/sweep', await broker('/admin/sweep', { method: 'POST', headers: admin }));
    await expectDocumented('POST', '/admin/sweep', await broker('/admin/sweep', { method: 'POST', headers: admin }));
    await expectDocumented('GET', '/admin/sweep/evidence', await broker('/admin/sweep/evidence', { headers: admin }));
    await expectDocumented('POST', '/sessions/revoke-all', await broker('/sessions/revoke-all', { method: 'POST', headers: bearer }));

    const again = await loginWithBearer('100001');
    await expectDocumented('POST', '/logout', await broker('/logout', { method: 'POST', headers: { Authorization: `Bearer ${again}` } }));

    await login({ userId: '100002' });
    const dropped = await broker('/token/users/100002', { method: 'DELETE', headers: admin });
    expect(dropped.status).toBe(200);
    await expectDocumented('DELETE', '/token/users/{userId}', dropped);

    const imported = await broker('/admin/users/import', {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tokens: [{ refresh_token: 'not-a-token-twitch-issued' }] }),
    });
    expect(imported.status).toBe(200);
    expect((await imported.clone().json<{ failed: unknown[] }>()).failed).toHaveLength(1);
    await expectDocumented('POST', '/admin/users/import', imported);

    const deviceLogin = await broker('/device', { method: 'POST', headers: { ...admin, 'Content-Type': 'application/json' }, body: '{}' });
    expect(deviceLogin.status).toBe(200);
    const { poll_token: pollToken } = await deviceLogin.clone().json<{ poll_token: string }>();
    await expectDocumented('POST', '/device', deviceLogin);
    const pending = await broker('/device/poll', {
      method: 'POST',
      headers: { ...admin, 'Content-Type': 'application/json' },
      body: JSON.stringify({ poll_token: pollToken }),
    });
    expect(pending.status).toBe(400);
    await expectDocumented('POST', '/device/poll', pending);
  });
});

describe('GET /docs', () => {
  it('renders every documented route on a page that runs no script', async () => {
    const response = await broker('/docs');
    expect(response.status).toBe(200);
    expect(response.headers.get('Content-Type')).toMatch(/^text\/html/);
    const csp = response.headers.get('Content-Security-Policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).not.toContain('script-src');
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/]{43}='/);
    const page = await response.text();
    expect(page).not.toMatch(/<script/i);
    for (const { method, path } of operations()) expect(page).toContain(`${method.toUpperCase()} ${path}`);
  });

  it('has a side index of every operation, grouped by tag, whose every link leads somewhere on the page', async () => {
    const page = await (await broker('/docs')).text();
    const index = page.slice(page.indexOf('<nav'), page.indexOf('</nav>'));
    expect(index, 'the page has a <nav> index').not.toBe('');
    for (const { key, operation } of operations()) {
      const tag = operation.tags?.[0];
      expect(tag, `${key} has a tag to be indexed under`).toBeDefined();
      // Listed under its tag's heading: after it, and before the next tag's.
      const heading = index.indexOf(`href="#tag-${tag}"`);
      const link = index.indexOf(`href="#${operation.operationId}"`);
      expect(heading, `the index has a heading for ${tag}`).toBeGreaterThanOrEqual(0);
      expect(link, `the index links ${key}`).toBeGreaterThan(heading);
      expect(index.slice(heading + 1, link), `${key} is indexed under ${tag}`).not.toMatch(/href="#tag-/);
    }
    const targets = new Set([...page.matchAll(/ id="([^"]+)"/g)].map((match) => match[1]));
    const links = [...page.matchAll(/href="#([^"]+)"/g)].map((match) => match[1]);
    expect(
      links.filter((target) => !targets.has(target)),
      'links to nothing',
    ).toEqual([]);
  });
});
