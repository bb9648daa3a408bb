import { Hono } from 'hono';
import { describeRoute, generateSpecs } from 'hono-openapi';
import type { OpenAPIV3_1 } from 'openapi-types';
import { version } from '../../package.json';
import type { AppEnv } from '../env';
import { errorResponse, securitySchemes } from '../openapi/describe';
import { referencePagePolicy, renderReferencePage } from '../openapi/reference-page';

const ERROR_SCHEMA = { $ref: '#/components/schemas/Error' } as const;

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
      { name: 'meta', description: 'The broker itself' },
    ],
    components: {
      securitySchemes,
      // Resolved into #/components/schemas/Error, which every error response refers to.
      responses: { Error: errorResponse('an error: `{"error", "error_description"}`') },
    },
  },
  // '/openapi.json' would otherwise be skipped as a static file.
  excludeStaticFile: false,
  // Any status an operation does not list (405, 413, 414, 431, 500, …) still carries the error body.
  defaultOptions: {
    GET: { responses: { default: { $ref: '#/components/responses/Error' } } },
    POST: { responses: { default: { $ref: '#/components/responses/Error' } } },
    DELETE: { responses: { default: { $ref: '#/components/responses/Error' } } },
  },
  defaultValidationErrorResponse: {
    description: '`invalid_request`: input that fails validation; the description names the field',
    content: { 'application/json': { schema: ERROR_SCHEMA } },
  },
};

/**
 * `GET /openapi.json` and `GET /docs` for `app`, generated on first use and kept for the life of
 * the isolate (the routes cannot change while it runs).
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
        summary: 'This document (OpenAPI 3.1)',
        responses: { 200: { description: 'the OpenAPI document', content: { 'application/json': { schema: { type: 'object' } } } } },
      }),
      async (c) => c.json(await documentOf()),
    )
    .get(
      '/docs',
      describeRoute({
        tags: ['meta'],
        summary: 'This document as a page (no scripts)',
        responses: { 200: { description: 'the reference page', content: { 'text/html': { schema: { type: 'string' } } } } },
      }),
      async (c) => {
        c.header('Content-Security-Policy', await (policy ??= referencePagePolicy()));
        return c.html(renderReferencePage(await documentOf()));
      },
    );
}
