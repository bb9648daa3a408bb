import { Hono, type Context } from 'hono';
import { describeRoute, generateSpecs } from 'hono-openapi';
import type { OpenAPIV3_1 } from 'openapi-types';
import { version } from '../../package.json';
import { CONSOLE_PATH } from '../console/console-guard';
import type { AppEnv } from '../env';
import { ConfigError } from '../errors';
import { brokerOrigin } from '../http/origins';
import { errorBody } from '../openapi/bodies';
import {
  apiKeySecurity,
  codesDescription,
  errorResponse,
  errorSchema,
  jsonResponse,
  noCredentials,
  retryAfter,
  securitySchemes,
  sessionSecurity,
  type ErrorCodes,
} from '../openapi/describe';
import { referencePagePolicy, renderReferencePage } from '../openapi/reference-page';

/**
 * A refusal of the Helix proxy, or Helix's own answer with the same status: the proxy passes
 * Helix's status and body on, so a 401 may also be Helix's, in Helix's shape.
 */
const helixRefusal = (codes: ErrorCodes, headers?: OpenAPIV3_1.ResponseObject['headers']): OpenAPIV3_1.ResponseObject => ({
  description: `${codesDescription(codes)}; or Helix's own answer with this status, passed on`,
  ...(headers ? { headers } : {}),
  content: { 'application/json': { schema: { anyOf: [errorSchema(Object.keys(codes)), { type: 'object', description: "Helix's body" }] } } },
});

/**
 * The Helix proxy (`/helix/*` in src/routes/helix-proxy.ts), written here: OpenAPI has no
 * wildcard paths and hono-openapi leaves them out, so it is documented as `/helix/{path}`.
 */
const helixProxyOperation = (method: string) => ({
  tags: ['helix'],
  operationId: `${method}Helix`,
  summary: `${method.toUpperCase()} any Helix endpoint with the caller's Twitch token`,
  description:
    "Forwards to `{TWITCH_API_BASE_URL}/helix/{path}` (query string included) with the session user's token, or the app token for an API key of scope `app`; `Client-Id` is added and the caller's own Authorization never forwarded. On Helix's 401 the token is checked, refreshed once and the call retried once. GET is allowed on any path; writes only where HELIX_PROXY_ALLOW lists them; cookie-authenticated writes need an allowed Origin.",
  security: [...sessionSecurity, ...apiKeySecurity('app')],
  parameters: [
    {
      in: 'path',
      name: 'path',
      required: true,
      description: 'the Helix path after /helix/ (it may hold slashes), e.g. `users` or `channels/followers`',
      schema: { type: 'string' },
    },
  ],
  responses: {
    400: helixRefusal({ invalid_request: 'a path that is not plain segments (`..`, `.`, empty segments, `\\`, control characters, any percent-encoding)' }),
    401: helixRefusal({
      unauthorized: 'no valid session or API key, or no grant stored for the session',
      reauthorization_required: 'Twitch no longer accepts the grant',
    }),
    403: helixRefusal({
      forbidden: 'a write HELIX_PROXY_ALLOW does not list',
      insufficient_scope: 'an API key without the `app` scope',
      forbidden_origin: 'a cookie write without an allowed Origin',
    }),
    502: helixRefusal(
      { bad_gateway: 'Helix did not answer', upstream_redirect: 'Helix answered with a redirect, which the proxy does not follow' },
      retryAfter,
    ),
    503: helixRefusal({ temporarily_unavailable: 'Twitch is failing and no valid token is left' }, retryAfter),
    default: {
      description: "Helix's own answer, passed on: its status, body, `Content-Type` and `Ratelimit-*` headers",
      content: { 'application/json': { schema: { type: 'object' } } },
    },
  },
});

/** What every operation answers besides the statuses it lists. */
const fallbackResponses = {
  responses: { '4XX': { $ref: '#/components/responses/Refused' }, default: { $ref: '#/components/responses/Error' } },
};

/**
 * How the document is generated from the app's routes: their `describeRoute` annotations, the
 * input schemas of their validators and the security of their auth middleware.
 */
const generateOptions = {
  documentation: {
    info: {
      title: 'twitch-token-broker',
      version,
      description:
        'Holds Twitch tokens for your app: logs users in, keeps their tokens fresh and hands them out. Every error is JSON `{"error", "error_description"}`; every token answer carries `Cache-Control: no-store`.',
    },
    tags: [
      { name: 'login', description: 'Browser login and sessions' },
      { name: 'tokens', description: 'Twitch access tokens' },
      { name: 'admin', description: 'Operators (API key with the admin scope)' },
      { name: 'helix', description: 'Helix through the broker, for callers that never hold a token' },
      { name: 'meta', description: 'The broker itself' },
    ],
    paths: {
      '/helix/{path}': Object.fromEntries(['get', 'post', 'put', 'patch', 'delete'].map((method) => [method, helixProxyOperation(method)])),
    },
    components: {
      securitySchemes,
      responses: {
        // Resolved into #/components/schemas/Error, which every error response refers to.
        Error: jsonResponse('an error: `{"error", "error_description"}`', errorBody),
        // What the app-wide request limits refuse on every route (src/http/request-limits.ts).
        Refused: errorResponse({
          request_too_large: "a URL over 4 KiB (414), a `Cookie` or `Authorization` header over 8 KiB (431), or a body over the route's limit (413)",
        }),
      },
    },
  },
  // '/openapi.json' would otherwise be skipped as a static file.
  excludeStaticFile: false,
  // The admin console is HTML for a browser, not API: docs/admin-console.md lists its routes.
  exclude: CONSOLE_PATH,
  // A 4xx an operation does not list is a request limit every route applies (413, 414, 431); any
  // other status (500, a 503 from the platform, …) still carries the error body.
  defaultOptions: { GET: fallbackResponses, POST: fallbackResponses, DELETE: fallbackResponses },
  defaultValidationErrorResponse: errorResponse({ invalid_request: 'input that fails validation; the description names the field' }),
};

/**
 * Where the document's operations live: the broker's public origin (PUBLIC_URL, else the origin the
 * request came to, as every absolute URL the broker builds). A malformed PUBLIC_URL, which /health
 * reports, must not take the documentation down with it: the request's origin serves then.
 */
function serverOf(c: Context<AppEnv>): OpenAPIV3_1.ServerObject {
  let url: string;
  try {
    url = brokerOrigin(c);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    url = new URL(c.req.url).origin;
  }
  return { url, description: 'this broker' };
}

/** The generated document with `servers` set for this request (the rest is the same for every request). */
function forRequest(document: OpenAPIV3_1.Document, c: Context<AppEnv>): OpenAPIV3_1.Document {
  const { openapi, info, ...rest } = document;
  return { openapi, info, servers: [serverOf(c)], ...rest };
}

/**
 * `GET /openapi.json` and `GET /docs` for `app`, generated on first use and kept for the life of
 * the isolate (the routes cannot change while it runs); only `servers` is filled in per request.
 */
export function openApiRoutes(app: Hono<AppEnv>) {
  let document: Promise<OpenAPIV3_1.Document> | undefined;
  let policy: Promise<string> | undefined;
  const documentOf = (): Promise<OpenAPIV3_1.Document> =>
    (document ??= generateSpecs(app, generateOptions).catch((error: unknown) => {
      document = undefined;
      throw error;
    }) as Promise<OpenAPIV3_1.Document>);

  return new Hono<AppEnv>()
    .get(
      '/openapi.json',
      describeRoute({
        tags: ['meta'],
        security: noCredentials,
        summary: 'This document (OpenAPI 3.1)',
        responses: { 200: { description: 'the OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
      }),
      async (c) => c.json(forRequest(await documentOf(), c)),
    )
    .get(
      '/docs',
      describeRoute({
        tags: ['meta'],
        security: noCredentials,
        summary: 'This document as a page (no scripts)',
        responses: { 200: { description: 'the reference page', content: { 'text/html': { schema: { type: 'string' } } } } },
      }),
      async (c) => {
        policy ??= referencePagePolicy();
        c.header('Content-Security-Policy', await policy);
        return c.html(renderReferencePage(forRequest(await documentOf(), c)));
      },
    );
}
