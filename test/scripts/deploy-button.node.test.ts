import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * What the Deploy to Cloudflare button reads from the repository (developers.cloudflare.com/workers/
 * platform/deploy-buttons): wrangler.toml for bindings and [vars] (resources without an id are
 * created), `.dev.vars.example` for the secrets it asks for (each uncommented entry, its value filled
 * in as the default), package.json `cloudflare.bindings` for the descriptions shown beside them, and
 * the `deploy` script as the deploy command.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${ROOT}${path}`, 'utf8');

const toml = read('wrangler.toml');
const example = read('.dev.vars.example');
const packageJson = JSON.parse(read('package.json')) as {
  scripts: Record<string, string>;
  cloudflare?: { bindings?: Record<string, { description?: string }> };
};

/** The top-level [vars] names. */
const varNames = (() => {
  const start = toml.search(/^\[vars\]\s*$/m);
  const body = toml.slice(start).split('\n').slice(1);
  const end = body.findIndex((line) => line.startsWith('['));
  return body.slice(0, end).flatMap((line) => line.match(/^([A-Z0-9_]+)\s*=/)?.[1] ?? []);
})();
/** Every top-level binding name (KV, Durable Objects, rate limits, datasets), commented-out ones left out. */
const bindingNames = [...toml.matchAll(/^(?:binding|name)\s*=\s*"([A-Z0-9_]+)"/gm)].map((match) => match[1]!);
/** The entries the button would ask for: uncommented `NAME=value` lines. */
const askedFor = [...example.matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((match) => ({ name: match[1]!, value: match[2]! }));

describe('the Deploy to Cloudflare button', () => {
  it('is asked for exactly the secrets the broker cannot start without, none of them with a value to accept', () => {
    expect(askedFor.map((entry) => entry.name).sort()).toEqual(['API_KEYS', 'SESSION_SECRET', 'TOKEN_ENCRYPTION_KEY', 'TWITCH_CLIENT_SECRET']);
    // A filled-in example is what a hurried deployer ships: no local URL, no known key.
    for (const entry of askedFor) expect(entry.value.replace(/\s+#.*$/, '').trim(), entry.name).toBe('');
    // A secret and a var of one name would collide on deploy.
    for (const entry of askedFor) expect(varNames).not.toContain(entry.name);
  });

  it('finds a description for every secret, var and binding it shows', () => {
    const described = packageJson.cloudflare?.bindings ?? {};
    for (const name of [...askedFor.map((entry) => entry.name), ...varNames, ...bindingNames]) {
      expect(described[name]?.description, name).toMatch(/\S{3,}/);
    }
  });

  it('creates the KV namespace itself: wrangler.toml names no account-specific id', () => {
    const kvBlocks = toml
      .split(/^\[\[kv_namespaces\]\]\s*$/m)
      .slice(1)
      .map((block) => block.split(/^\[/m)[0]!);
    expect(kvBlocks).toHaveLength(1);
    expect(kvBlocks[0]).toMatch(/^binding = "APP_TOKEN_CACHE"$/m);
    expect(kvBlocks[0]).not.toMatch(/^id\s*=/m);
  });

  it('deploys with the deploy script and needs no build step', () => {
    expect(packageJson.scripts.deploy).toBe('wrangler deploy');
    expect(packageJson.scripts.build).toBeUndefined();
  });

  it('is in the README with the deploy.workers.cloudflare.com URL and the placeholder to replace', () => {
    const readme = read('README.md');
    expect(readme).toContain(
      '[![Deploy to Cloudflare](https://deploy.workers.cloudflare.com/button)](https://deploy.workers.cloudflare.com/?url=https://github.com/<you>/twitch-token-broker)',
    );
  });
});
