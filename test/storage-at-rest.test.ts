import { env } from 'cloudflare:workers';
import { listDurableObjectIds, runInDurableObject } from 'cloudflare:test';
import { describe, expect, it } from 'vitest';
import { API_KEY, APP_ONLY_API_KEY, TEST_BINDINGS, USERS_ONLY_API_KEY } from './test-bindings';
import { broker, login } from './support/broker';
import { freshStateForEachTest } from './support/reset';
import { twitch } from './support/twitch';

freshStateForEachTest();

/** Every key and value in every Durable Object of `namespace`, as text. */
async function dumpNamespace<T extends Rpc.DurableObjectBranded | undefined>(namespace: DurableObjectNamespace<T>): Promise<string> {
  const parts: string[] = [];
  for (const id of await listDurableObjectIds(namespace)) {
    parts.push(
      await runInDurableObject(namespace.get(id), async (_instance, ctx) => {
        const entries = [...(await ctx.storage.list()).entries()];
        const tables = ctx.storage.sql
          .exec<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' AND name NOT LIKE 'sqlite_%'")
          .toArray()
          .map((table) => ctx.storage.sql.exec(`SELECT * FROM "${table.name}"`).toArray());
        return JSON.stringify({ entries, tables });
      }),
    );
  }
  return parts.join('\n');
}

async function dumpKv(): Promise<string> {
  const { keys } = await env.APP_TOKEN_CACHE.list();
  const values = await Promise.all(keys.map((key) => env.APP_TOKEN_CACHE.get(key.name)));
  return JSON.stringify({ keys, values });
}

describe('storage at rest', () => {
  it('holds no access token, refresh token, code or secret in plain text', async () => {
    await twitch.configure({ userAccessTokenTtlSeconds: 120 });
    const { jar } = await login({ userId: '100001' });
    await twitch.configure({ userAccessTokenTtlSeconds: 14400 }); // the refresh's pair and later logins live long enough to be copied
    await login({ userId: '100002' });
    await jar.fetch('/token'); // a refresh: a second pair gets stored
    await broker('/token/app', { headers: { Authorization: `Bearer ${API_KEY}` } });
    await login({ userId: '100003' }); // leaves an unused session code behind
    // The sweep: every vault hands the directory a sealed copy of its access token.
    expect((await broker('/admin/sweep', { method: 'POST', headers: { Authorization: `Bearer ${API_KEY}` } })).status).toBe(200);
    const directoryDump = await dumpNamespace(env.USER_DIRECTORY);
    expect(directoryDump.match(/eyJ[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\./g)).toHaveLength(3);

    const dump = [
      await dumpNamespace(env.USER_VAULT),
      await dumpNamespace(env.APP_TOKEN_MINTER),
      await dumpNamespace(env.ONE_TIME_STORE),
      directoryDump,
      await dumpKv(),
    ].join('\n');

    // The dump is not empty: the grants are there, sealed.
    expect(dump).toContain('100001');
    expect(dump).toMatch(/eyJ[A-Za-z0-9_-]+\.\.[A-Za-z0-9_-]+\./); // compact JWE: header..iv.ciphertext.tag

    const secrets = [
      ...(await twitch.secrets()),
      TEST_BINDINGS.SESSION_SECRET,
      TEST_BINDINGS.TOKEN_ENCRYPTION_KEY,
      API_KEY,
      APP_ONLY_API_KEY,
      USERS_ONLY_API_KEY,
      ...[...jar.cookies.values()],
    ];
    expect(secrets.length).toBeGreaterThan(8);
    for (const secret of secrets) expect(dump).not.toContain(secret);
  });
});
