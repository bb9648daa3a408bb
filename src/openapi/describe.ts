import type { MiddlewareHandler } from 'hono';
import { resolver, uniqueSymbol, type DescribeRouteOptions } from 'hono-openapi';
import type { OpenAPIV3_1 } from 'openapi-types';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ApiScope } from '../config';

/**
 * Building blocks for the route annotations that /openapi.json is generated from. Input schemas
 * come from the validators themselves (see `validateInput`), security from the auth middleware;
 * what is written here is what neither can know: summaries and responses. A new route needs a
 * `describeRoute({ summary, responses })`: test/openapi.test.ts names any route the document lacks
 * (the admin console's HTML routes are left out on purpose: docs/admin-console.md lists them).
 */

/** The security schemes, by the names operations refer to. */
export const securitySchemes = {
  apiKey: {
    type: 'http',
    scheme: 'bearer',
    description:
      'An API key from `npm run api-key`, sent as `Authorization: Bearer <API key>`. Each key carries scopes (`app`, `users`, `admin`); the scope a route needs is listed in its security requirement.',
  },
  sessionBearer: {
    type: 'http',
    scheme: 'bearer',
    bearerFormat: 'JWT',
    description: 'A session token from `POST /session`, sent as `Authorization: Bearer <session token>` (frontends on another site).',
  },
  sessionCookie: {
    type: 'apiKey',
    in: 'cookie',
    name: '__Host-ttb_session',
    description: 'The HttpOnly session cookie set by `/callback` (named `ttb_session`, without the `__Host-` prefix, on plain http during local development).',
  },
} satisfies Record<string, OpenAPIV3_1.SecuritySchemeObject>;

type SecurityRequirement = Partial<Record<keyof typeof securitySchemes, string[]>>;

/**
 * Attaches documentation to an existing middleware, as `describeRoute` does for a no-op one: the
 * auth middleware documents the credential it checks, so a route's security cannot be forgotten.
 */
export function documented<Middleware extends MiddlewareHandler>(middleware: Middleware, spec: DescribeRouteOptions): Middleware {
  return Object.assign(middleware, { [uniqueSymbol]: { spec } });
}

/** Security of routes behind `requireApiKey(scope)`: OpenAPI 3.1 lists the key's scope as a role. */
export const apiKeySecurity = (scope: ApiScope): SecurityRequirement[] => [{ apiKey: [scope] }];

/**
 * Security of a route that takes no credentials, said outright: an operation without any security
 * statement is one whose credentials were forgotten (Redocly's `security-defined` flags it).
 */
export const noCredentials: SecurityRequirement[] = [];

/** Security of routes behind `requireSession`: either transport. */
export const sessionSecurity: SecurityRequirement[] = [{ sessionBearer: [] }, { sessionCookie: [] }];

/**
 * Drops what zod adds for the wire but no reader needs: the safe-integer bounds of every integer
 * and the long pattern beside `format: date-time`.
 */
const withoutNoise = ({ jsonSchema }: { jsonSchema: Record<string, unknown> }): void => {
  if (jsonSchema.type === 'integer' && jsonSchema.minimum === Number.MIN_SAFE_INTEGER) {
    delete jsonSchema.minimum;
    delete jsonSchema.maximum;
  }
  if (jsonSchema.format === 'date-time') delete jsonSchema.pattern;
};

/** A JSON response whose body is described by `schema`. */
export function jsonResponse(description: string, schema: StandardSchemaV1, headers?: OpenAPIV3_1.ResponseObject['headers']) {
  const content = { 'application/json': { schema: resolver(schema, { options: { override: withoutNoise } }) } };
  return { description, ...(headers ? { headers } : {}), content };
}

/** The error codes a response can carry, each with when it is answered. */
export type ErrorCodes = Readonly<Record<string, string>>;

/**
 * The error body with `error` narrowed to `codes`, as plain JSON Schema: usable in a route's
 * annotation and in documentation written outside the routes (the Helix proxy, the validation default).
 */
export function errorSchema(codes: readonly string[]): OpenAPIV3_1.SchemaObject {
  return {
    type: 'object',
    properties: {
      error: { type: 'string', enum: [...codes], description: 'a stable code' },
      error_description: { type: 'string', description: 'for humans; never carries a secret' },
    },
    required: ['error', 'error_description'],
  };
}

/**
 * An error response `{"error", "error_description"}` with the codes the route can answer at this
 * status: `errorResponse({ unauthorized: 'missing or unknown API key' })`. The description lists
 * each code with its meaning, so the enum and the prose cannot disagree.
 */
export function errorResponse(codes: ErrorCodes, headers?: OpenAPIV3_1.ResponseObject['headers']): OpenAPIV3_1.ResponseObject {
  return {
    description: codesDescription(codes),
    ...(headers ? { headers } : {}),
    content: { 'application/json': { schema: errorSchema(Object.keys(codes)) } },
  };
}

/** "`code`: meaning; `other`: meaning", the description of an error response. */
export const codesDescription = (codes: ErrorCodes): string =>
  Object.entries(codes)
    .map(([code, meaning]) => `\`${code}\`: ${meaning}`)
    .join('; ');

/** `Retry-After`, on 429 and 503. */
export const retryAfter: OpenAPIV3_1.ResponseObject['headers'] = {
  'Retry-After': { description: 'seconds to wait before trying again', schema: { type: 'integer', minimum: 1 } },
};

/** A 302 to `Location`. */
export const redirectResponse = (description: string): OpenAPIV3_1.ResponseObject => ({
  description,
  headers: { Location: { description: 'where the browser goes next', required: true, schema: { type: 'string', format: 'uri-reference' } } },
});
