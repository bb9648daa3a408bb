import { Hono } from 'hono';
import { requireApiKey } from '../auth/api-key';
import type { AppEnv } from '../env';
import { runSweep } from '../sweep/sweep';

export const adminRoutes = new Hono<AppEnv>()
  /**
   * Validates every stored token now (the cron's code path, forced). Answers with the counts of
   * the first batch; `remaining` users are worked through by the directory's alarm right after.
   */
  .post('/admin/sweep', requireApiKey('admin'), async (c) => {
    const report = await runSweep(c.env, { force: true });
    c.header('Cache-Control', 'no-store');
    return c.json(report);
  });
