import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
import type { MiddlewareHandler } from 'hono';
import type { AppEnv } from '../env';
import { BrokerError } from '../errors';

/** Nothing the broker accepts comes near these; larger input is refused before any work. */
const MAX_URL_LENGTH = 4096;
const MAX_HEADER_LENGTH = 8192;
const MAX_BODY_BYTES = 8 * 1024;

/** Refuses over-long URLs (414) and over-long Cookie or Authorization headers (431). */
export const requestSizeLimits = createMiddleware<AppEnv>(async (c, next) => {
  if (c.req.url.length > MAX_URL_LENGTH) {
    throw new BrokerError(414, 'request_too_large', `the URL is longer than ${MAX_URL_LENGTH} characters`);
  }
  for (const name of ['Cookie', 'Authorization'] as const) {
    if ((c.req.header(name)?.length ?? 0) > MAX_HEADER_LENGTH) {
      throw new BrokerError(431, 'request_too_large', `the ${name} header is longer than ${MAX_HEADER_LENGTH} characters`);
    }
  }
  await next();
});

const bodyLimitOf = (maxSize: number) =>
  bodyLimit({
    maxSize,
    onError: () => new BrokerError(413, 'request_too_large', `the body is larger than ${maxSize} bytes`).toResponse(),
  });

/** Routes that take more than 8 KiB: a token import carries up to a hundred token pairs. */
const LARGER_BODIES: Record<string, MiddlewareHandler> = {
  '/admin/users/import': bodyLimitOf(128 * 1024),
};
const defaultBodyLimit = bodyLimitOf(MAX_BODY_BYTES);

/** Refuses request bodies over 8 KiB (413), or over the larger limit of the few routes that need one. */
export const requestBodyLimit = createMiddleware((c, next) => (LARGER_BODIES[c.req.path] ?? defaultBodyLimit)(c, next));
