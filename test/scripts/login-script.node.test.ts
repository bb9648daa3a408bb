import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startLocalSystem, type LocalSystem } from '../e2e/local-system';

/**
 * `npm run login` against the real broker under `wrangler dev` and the Twitch stand-in on a real
 * port: the bot's owner approves the code on the stand-in, and the script must say what the broker
 * actually stored.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));
let system: LocalSystem;

beforeAll(async () => {
  system = await startLocalSystem('login-script');
  await fetch(`${system.twitch.url}/_standin/device/config`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ interval: 1 }),
  });
}, 120_000);

afterAll(async () => {
  await system?.stop();
});

/** Runs `npm run login -- --scopes <scopes>`, approves the code it prints as user 100001, and waits for it to end. */
function logIn(scopes: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(TSX, ['scripts/login.ts', '--scopes', scopes], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, BROKER_URL: system.broker.url, BROKER_API_KEY: system.apiKey, NO_COLOR: '1' },
    });
    let stdout = '';
    let stderr = '';
    let approved = false;
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const code = stdout.match(/enter the code\s+([A-Z]{8})/)?.[1];
      if (code && !approved) {
        approved = true;
        fetch(`${system.twitch.url}/_standin/device/approve`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ user_code: code, user_id: '100001' }),
        }).catch(reject);
      }
    });
    const timer = setTimeout(() => child.kill(), 30_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('npm run login', () => {
  it('says when the broker kept a broader stored grant: the scopes it holds, those not stored, and how to widen it', async () => {
    const first = await logIn('chat:read chat:edit');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('Logged in: streamer_alice (100001) with chat:read chat:edit');

    // Approving a login without chat:edit must not narrow the grant, and the script must not claim it did.
    const narrower = await logIn('chat:read moderator:read:chatters');
    const output = narrower.stdout + narrower.stderr;
    expect(output).not.toContain('with chat:read moderator:read:chatters');
    expect(output).toContain('kept the grant it already stored for streamer_alice (100001)');
    expect(output).toContain('stored scopes: chat:read chat:edit');
    expect(output).toContain('not stored: moderator:read:chatters');
    expect(output).toContain('npm run login -- --scopes chat:read chat:edit moderator:read:chatters');
    expect(output).toContain(`${system.broker.url}/authorize?scope=chat%3Aread+chat%3Aedit+moderator%3Aread%3Achatters`);
    expect(output).toContain('DELETE /token/users/100001');
    // It did not get what it asked for.
    expect(narrower.code).toBe(1);
  });
});
