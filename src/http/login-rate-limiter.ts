import { DurableObject } from 'cloudflare:workers';
import { createMiddleware } from 'hono/factory';
import type { AppEnv, Env } from '../env';
import { BrokerError } from '../errors';
import { documented, errorResponse, retryAfter } from '../openapi/describe';
import { rateLimitKey } from './client-address';

/** Requests per client IP per window on the unauthenticated login endpoints. */
export const LOGIN_LIMIT = 60;
const WINDOW_SECONDS = 60;

/**
 * The fallback limiter: one object per client IP, counting requests in fixed one-minute windows
 * in memory. Losing the count on eviction only ever errs towards letting a client through.
 */
export class LoginRateLimiter extends DurableObject<Env> {
  private windowStart = 0;
  private count = 0;

  /** Counts one request; answers whether it is within the limit, and when the window resets. */
  async hit(): Promise<{ allowed: boolean; resetInSeconds: number }> {
    const now = Date.now();
    if (now - this.windowStart >= WINDOW_SECONDS * 1000) {
      this.windowStart = now;
      this.count = 0;
    }
    this.count++;
    const resetInSeconds = Math.ceil((this.windowStart + WINDOW_SECONDS * 1000 - now) / 1000);
    return { allowed: this.count <= LOGIN_LIMIT, resetInSeconds };
  }
}

/**
 * Limits the unauthenticated login endpoints per client (Cloudflare's `CF-Connecting-IP`; IPv6 per /64):
 * the Workers rate-limiting binding when configured, the Durable Object otherwise. Over the
 * limit: 429 with Retry-After (documented in /openapi.json by the middleware itself).
 */
export const limitLoginRate = documented(
  createMiddleware<AppEnv>(async (c, next) => {
    // With "Pseudo IPv4" on, CF-Connecting-IP is a stand-in IPv4 per address; the real one is here.
    const clientKey = rateLimitKey(c.req.header('CF-Connecting-IPv6') ?? c.req.header('CF-Connecting-IP'));
    let allowed: boolean;
    let retryAfterSeconds = WINDOW_SECONDS;
    if (c.env.LOGIN_RATE_LIMITER) {
      ({ success: allowed } = await c.env.LOGIN_RATE_LIMITER.limit({ key: clientKey }));
    } else {
      const limiter = c.env.LOGIN_RATE_LIMITER_FALLBACK;
      const outcome = await limiter.get(limiter.idFromName(clientKey)).hit();
      allowed = outcome.allowed;
      retryAfterSeconds = outcome.resetInSeconds;
    }
    if (!allowed) {
      throw new BrokerError(429, 'rate_limited', 'too many login requests from this address; try again shortly', {
        'Retry-After': String(Math.max(1, retryAfterSeconds)),
      });
    }
    await next();
  }),
  {
    responses: { 429: errorResponse({ rate_limited: `more than ${LOGIN_LIMIT} login requests a minute from this address (an IPv6 /64)` }, retryAfter) },
  },
);
