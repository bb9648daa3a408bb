/**
 * `npm run api-key -- <name> <scope[+scope]>`: prints a new random API key and the API_KEYS entry
 * that admits it (`name:scopes:sha256`). Give the key to the caller; put only the entry in
 * configuration (`wrangler secret put API_KEYS`, entries comma-separated).
 * Scopes: app (/token/app), users (/token/users/:id), admin (/admin/*).
 */
import { createHash, randomBytes } from 'node:crypto';

/** A fresh key and its configuration entry. */
export function newApiKey(name: string, scopes: string): { key: string; entry: string } {
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name)) throw new Error('name: letters, digits, _ . - (at most 64)');
  if (!scopes.split('+').every((scope) => ['app', 'users', 'admin'].includes(scope))) {
    throw new Error('scopes: app, users and/or admin, joined with +');
  }
  const key = `ttb_${randomBytes(32).toString('base64url')}`;
  const digest = createHash('sha256').update(key).digest('hex');
  return { key, entry: `${name}:${scopes}:${digest}` };
}

const isMain = process.argv[1]?.endsWith('api-key.ts');
if (isMain) {
  const [name = 'default', scopes = 'app+users'] = process.argv.slice(2);
  try {
    const { key, entry } = newApiKey(name, scopes);
    console.log(`API key (give this to the caller; it is shown once):\n  ${key}\n`);
    console.log(`API_KEYS entry (configuration holds only this digest):\n  ${entry}`);
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
}
