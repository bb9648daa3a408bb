import { getRequestListener } from '@hono/node-server';
import { Hono } from 'hono';

/**
 * Stands in for Cloudflare's Analytics Engine SQL API (POST /client/v4/accounts/:id/analytics_engine/sql)
 * in the tests, as test/metrics-sink stands in for the sink the broker writes to: tests copy what
 * the broker wrote into it, and the console reads it back through the real HTTP path. It answers
 * the one query the console sends (src/metrics/metrics-query.ts), as Analytics Engine would, in
 * its `FORMAT JSON` shape, and refuses a wrong token or account like the API does. This fakes
 * Cloudflare's side, not the broker's code.
 */

interface StoredPoint {
  at: number;
  index1: string;
  blobs: string[];
  doubles: number[];
}

export interface AnalyticsSqlStandin {
  listener: ReturnType<typeof getRequestListener>;
}

const HOUR_S = 3600;

export function createAnalyticsSqlStandin(): AnalyticsSqlStandin {
  let points: StoredPoint[] = [];
  let access: { accountId: string; token: string; dataset: string } | null = null;
  let queries = 0;
  const app = new Hono();

  app.post('/_standin/reset', (c) => {
    points = [];
    access = null;
    queries = 0;
    return c.json({});
  });
  app.post('/_standin/access', async (c) => {
    access = await c.req.json();
    return c.json({});
  });
  /** Data points as the broker wrote them (`{indexes, blobs, doubles}`), stamped `at` (default now). */
  app.post('/_standin/points', async (c) => {
    const body = await c.req.json<{ points: { indexes?: string[]; blobs?: string[]; doubles?: number[] }[]; at?: number }>();
    for (const point of body.points) {
      points.push({ at: body.at ?? Date.now(), index1: point.indexes?.[0] ?? '', blobs: point.blobs ?? [], doubles: point.doubles ?? [] });
    }
    return c.json({ stored: points.length });
  });
  app.get('/_standin/queries', (c) => c.json({ queries }));

  app.post('/client/v4/accounts/:accountId/analytics_engine/sql', async (c) => {
    queries++;
    if (access === null || c.req.header('Authorization') !== `Bearer ${access.token}`) {
      return c.json({ success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null }, 401);
    }
    if (c.req.param('accountId') !== access.accountId) {
      return c.json({ success: false, errors: [{ code: 10000, message: 'Authentication error' }], messages: [], result: null }, 403);
    }
    const sql = await c.req.text();
    const table = sql.match(/\bFROM\s+([A-Za-z0-9_]+)/)?.[1];
    if (table !== access.dataset) return c.text(`unknown table ${table ?? ''}`, 422);
    const events = [...sql.matchAll(/index1 = '([a-z_]+)'/g)].map((match) => match[1]!);
    // What it computes below, column by column: a query asking for anything else is refused, not answered wrongly.
    const select = 'SELECT intDiv(toUInt32(timestamp), 3600) * 3600 AS hour, blob1 AS event, blob2 AS label, SUM(_sample_interval * double1) AS count';
    if (
      !sql.startsWith(select) ||
      !/\bGROUP BY hour, event, label\b/.test(sql) ||
      !/FORMAT JSON\s*$/.test(sql) ||
      !/timestamp > NOW\(\) - INTERVAL '1' DAY/.test(sql) ||
      events.length === 0
    ) {
      return c.text("this stand-in answers only the console's query", 422);
    }
    const since = Date.now() - 24 * HOUR_S * 1000;
    const groups = new Map<string, { hour: number; event: string; label: string; count: number }>();
    for (const point of points) {
      if (point.at <= since || !events.includes(point.index1)) continue;
      const hour = Math.floor(point.at / 1000 / HOUR_S) * HOUR_S;
      const key = `${hour} ${point.blobs[0]} ${point.blobs[1] ?? ''}`;
      const group = groups.get(key) ?? { hour, event: point.blobs[0] ?? '', label: point.blobs[1] ?? '', count: 0 };
      group.count += point.doubles[0] ?? 0; // _sample_interval is 1 at this volume
      groups.set(key, group);
    }
    const data = [...groups.values()].sort((a, b) => a.hour - b.hour);
    return c.json({
      meta: [
        { name: 'hour', type: 'UInt32' },
        { name: 'event', type: 'String' },
        { name: 'label', type: 'String' },
        { name: 'count', type: 'Float64' },
      ],
      data,
      rows: data.length,
      rows_before_limit_at_least: data.length,
    });
  });

  return { listener: getRequestListener((request) => app.fetch(request), { overrideGlobalObjects: false }) };
}
