import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * src/env.ts is written by hand (it documents each setting and marks the optional ones, which
 * `wrangler types` cannot know), so this holds it to what `wrangler types` reads from wrangler.toml
 * and .dev.vars.example: a binding added, renamed or retyped in one place and not the other fails here.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

/** `NAME?: Type;` members of `interface <name> { … }` in a TypeScript source. */
function interfaceMembers(source: string, name: string): Map<string, { type: string; optional: boolean }> {
  const body = new RegExp(`interface ${name} \\{([\\s\\S]*?)\\n\\s*\\}`).exec(source)?.[1];
  if (body === undefined) throw new Error(`no interface ${name}`);
  const members = new Map<string, { type: string; optional: boolean }>();
  for (const match of body.matchAll(/^\s*([A-Z][A-Z0-9_]*)(\??):\s*([^;]+);/gm)) {
    members.set(match[1]!, { type: match[3]!.trim(), optional: match[2] === '?' });
  }
  return members;
}

/** The binding's kind without generics' module paths: `DurableObjectNamespace<UserVault>`, `KVNamespace`, `string`. */
const kindOf = (type: string) => type.replace(/import\([^)]*\)\./g, '');

let generated: Map<string, { type: string; optional: boolean }>;
let folder: string;

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), 'ttb-env-'));
  const out = join(folder, 'worker-configuration.d.ts');
  await promisify(execFile)('npx', ['wrangler', 'types', out, '--include-runtime=false', '--strict-vars=false', '--env-file', '.dev.vars.example'], {
    cwd: ROOT,
    env: { ...process.env, WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  });
  generated = interfaceMembers(readFileSync(out, 'utf8'), 'Env');
}, 60_000);

afterAll(() => {
  if (folder) rmSync(folder, { recursive: true, force: true });
});

describe('src/env.ts against wrangler types', () => {
  const declared = interfaceMembers(read('src/env.ts'), 'Env');

  it('declares every binding wrangler.toml and .dev.vars.example define, with the same type', () => {
    // The secrets come from .dev.vars.example's uncommented entries.
    expect([...generated.keys()]).toEqual(expect.arrayContaining(['TWITCH_CLIENT_SECRET', 'SESSION_SECRET', 'USER_VAULT', 'APP_TOKEN_CACHE']));
    for (const [name, { type }] of generated) {
      expect(declared.has(name), `${name} is in wrangler.toml or .dev.vars.example but not in src/env.ts`).toBe(true);
      expect(kindOf(declared.get(name)!.type), name).toBe(kindOf(type));
    }
  });

  it('declares no storage binding that wrangler.toml lacks, unless it is optional', () => {
    for (const [name, { type, optional }] of declared) {
      if (type === 'string' || optional) continue;
      expect(generated.has(name), `${name} is required in src/env.ts but wrangler.toml does not define it`).toBe(true);
    }
  });

  it('documents every string setting in a configuration table (README or docs/)', () => {
    const docs = [
      read('README.md'),
      ...readdirSync(join(ROOT, 'docs'))
        .filter((file) => file.endsWith('.md'))
        .map((file) => read(`docs/${file}`)),
    ].join('\n');
    for (const [name, { type }] of declared) {
      if (type !== 'string') continue;
      expect(docs, `${name} has no row in a configuration table`).toMatch(new RegExp(`^\\| \`${name}\` \\|`, 'm'));
    }
  });
});
