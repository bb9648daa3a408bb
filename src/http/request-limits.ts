import { bodyLimit } from 'hono/body-limit';
import { createMiddleware } from 'hono/factory';
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

/** Refuses request bodies over 8 KiB (413). */
export const requestBodyLimit = bodyLimit({
  maxSize: MAX_BODY_BYTES,
  onError: () => new BrokerError(413, 'request_too_large', `the body is larger than ${MAX_BODY_BYTES} bytes`).toResponse(),
});
