import { Hono } from 'hono';
import { getConfig } from '../config';
import type { AppEnv } from '../env';

export const healthRoutes = new Hono<AppEnv>()
  /** Liveness, plus the names (never values) of settings that are missing or malformed. */
  .get('/health', (c) => {
    const problems = getConfig(c.env).problems;
    return c.json({ status: 'ok', configuration: problems.length === 0 ? 'complete' : 'incomplete', problems });
  });
