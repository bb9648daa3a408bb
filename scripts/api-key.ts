/**
 * `npm run api-key -- <name> <scope[+scope]>`: prints a new random API key and the API_KEYS entry
 * that admits it (`name:scopes:sha256`). Give the key to the caller; put only the entry in
 * configuration (`wrangler secret put API_KEYS`, entries comma-separated).
 * Scopes: app (/token/app), users (/token/users/:id), admin (/admin/*).
 */
import { createHash, randomBytes } from 'node:crypto';
import { parseCli, refuse } from './cli-args';

const USAGE = `
Usage: npm run api-key -- [name] [scopes]

Prints a new random API key and the API_KEYS entry that admits it (name:scopes:sha256). Give the
key to the caller; put only the entry in configuration (wrangler secret put API_KEYS, entries
comma-separated). Nothing is stored: run it again for another key.

Arguments:
  name        who the key is for (the audit trail names it): letters, digits, _ . -,
              not starting with - (at most 64; default: default)
  scopes      app (/token/app, the Helix proxy), users (/token/users/:id, /device),
              admin (/admin/*), joined with + (default: app+users)

Options:
  -h, --help  print this and exit

Environment: none read.
Exit code: 0 a key was printed; 2 bad arguments (no key is made).
`;

/** A fresh key and its configuration entry. */
export function newApiKey(name: string, scopes: string): { key: string; entry: string } {
  // A leading dash is a mistyped option (`--help`), never a name someone meant.
  if (!/^[A-Za-z0-9_.][A-Za-z0-9_.-]{0,63}$/.test(name)) throw new Error('name: letters, digits, _ . - (at most 64), not starting with -');
  if (!scopes.split('+').every((scope) => ['app', 'users', 'admin'].includes(scope))) {
    throw new Error('scopes: app, users and/or admin, joined with +');
  }
  const key = `ttb_${randomBytes(32).toString('base64url')}`;
  const digest = createHash('sha256').update(key).digest('hex');
  return { key, entry: `${name}:${scopes}:${digest}` };
}

const isMain = process.argv[1]?.endsWith('api-key.ts');
if (isMain) {
  const { positionals } = parseCli({ script: 'api-key', usage: USAGE, allowPositionals: true, options: {} });
  if (positionals.length > 2) refuse('api-key', `expected at most a name and scopes, got ${positionals.length} arguments`);
  const [name = 'default', scopes = 'app+users'] = positionals;
  let minted: { key: string; entry: string };
  try {
    minted = newApiKey(name, scopes);
  } catch (error) {
    refuse('api-key', (error as Error).message);
  }
  console.log(`API key (give this to the caller; it is shown once):\n  ${minted.key}\n`);
  console.log(`API_KEYS entry (configuration holds only this digest):\n  ${minted.entry}`);
}
