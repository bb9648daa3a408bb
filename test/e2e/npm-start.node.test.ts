import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newApiKey } from '../../scripts/api-key';
import { localDevVars } from '../../scripts/dev-vars';
import { freePort, stopProcessGroup } from './dev-server';
import { Browser } from './local-system';

/**
 * `npm start` as a new user meets it, run on a copy of the project so the real checkout's .dev.vars and
 * .wrangler/state are never touched: the stand-in's configured port is taken by someone else, a new test
 * user is typed on the consent page, Ctrl-C stops cleanly, and after a restart the broker's stored grant
 * still holds a token the (restarted) stand-in accepts.
 */

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
let project: string;
let squatter: Server;
let squattedPort: number;
const apiKey = newApiKey('local', 'app+users+admin');

interface StartRun {
  child: ChildProcess;
  output: () => string;
}

function startScript(args: string[]): StartRun {
  // One process (tsx as a loader), so SIGINT reaches start.ts exactly as Ctrl-C would.
  const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/start.ts', ...args], {
    cwd: project,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
  });
  let output = '';
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return { child, output: () => output };
}

async function waitForReady(run: StartRun): Promise<void> {
  await expect.poll(() => run.output().includes('Broker ready') || run.child.exitCode !== null, { timeout: 90_000, interval: 250 }).toBe(true);
  if (run.child.exitCode !== null) throw new Error(`npm start exited early:\n${run.output()}`);
}

/** Ctrl-C, and the exit code it ends with. */
async function interrupt(run: StartRun): Promise<number | null> {
  const exited = new Promise<number | null>((resolve) => run.child.once('exit', (code) => resolve(code)));
  run.child.kill('SIGINT');
  return Promise.race([exited, new Promise<number | null>((resolve) => setTimeout(() => resolve(-1), 20_000))]);
}

function standinUrlIn(output: string): string {
  const match = output.match(/Local Twitch stand-in: (http:\/\/\S+)/);
  if (!match) throw new Error(`no stand-in URL in:\n${output}`);
  return match[1]!;
}

beforeAll(async () => {
  project = mkdtempSync(join(tmpdir(), 'ttb-start-'));
  for (const part of ['package.json', 'tsconfig.json', 'wrangler.toml', 'src', 'scripts', 'standin', 'test/e2e']) {
    cpSync(join(ROOT, part), join(project, part), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(project, 'node_modules'), 'dir');
  // Someone else already listens on the stand-in's configured port.
  squatter = createServer();
  await new Promise<void>((resolve) => squatter.listen(0, '127.0.0.1', resolve));
  squattedPort = (squatter.address() as { port: number }).port;
  // The .dev.vars npm start would write, with the stand-in's port set to the taken one.
  const devVars = localDevVars(
    { sessionSecret: 'npm-start-test-session-secret-0123456789abcdef', tokenEncryptionKey: Buffer.alloc(32, 7).toString('base64'), apiKeys: apiKey.entry },
    `http://127.0.0.1:${squattedPort}`,
  );
  writeFileSync(join(project, '.dev.vars'), devVars);
}, 60_000);

afterAll(async () => {
  squatter?.close();
  if (project) rmSync(project, { recursive: true, force: true });
});

describe('npm start', () => {
  it('moves a stand-in whose port is taken, lets a typed user log in, stops cleanly, and keeps grant and tokens in agreement across a restart', async () => {
    const brokerPort = await freePort();
    const broker = `http://127.0.0.1:${brokerPort}`;
    const first = startScript(['--port', String(brokerPort)]);
    let userId: string;
    try {
      await waitForReady(first);
      const output = first.output();
      expect(output).toContain(`Port ${squattedPort} (the Twitch stand-in's, from .dev.vars) is in use`);
      // The URL line comes after wrangler's own "Ready on" banner, so it is the last thing on screen.
      expect(output.indexOf('Broker ready')).toBeGreaterThan(output.indexOf('Ready on'));
      const standin = standinUrlIn(output);
      expect(standin).not.toContain(String(squattedPort));
      // Not the README's ports: it prints the examples' commands for these.
      const standinPort = new URL(standin).port;
      expect(output).toContain(
        `BROKER_URL=http://localhost:${brokerPort} BROKER_API_KEY=$(cat .dev.api-key) TWURPLE_MOCK_API_PORT=${standinPort} npx tsx examples/twurple-bot.ts`,
      );
      expect(output).toContain(`HELIX_URL=${standin}/helix npx tsx examples/eventsub-subscribe.ts`);
      expect(output).toContain(`examples/overlay/index.html?broker=http%3A%2F%2Flocalhost%3A${brokerPort}&helix=`);

      const browser = new Browser();
      const consentUrl = (await browser.fetch(`${broker}/authorize`)).headers.get('Location')!;
      expect(consentUrl.startsWith(`${standin}/oauth2/authorize?`)).toBe(true);
      const form = new URLSearchParams(new URL(consentUrl).searchParams);
      form.set('user_id', 'Brand_New_Tester');
      form.set('decision', 'allow');
      const approved = await browser.fetch(`${standin}/oauth2/authorize`, { method: 'POST', body: form });
      expect(approved.status).toBe(302);
      expect((await browser.fetch(approved.headers.get('Location')!)).status).toBe(302);
      const token = (await (await browser.fetch(`${broker}/token`)).json()) as { user_id: string; login: string };
      expect(token.login).toBe('brand_new_tester');
      userId = token.user_id;
    } finally {
      expect(await interrupt(first)).toBe(0);
      await stopProcessGroup(first.child);
    }
    expect(first.output()).not.toContain('ERR_SERVER_NOT_RUNNING');

    const second = startScript(['--port', String(brokerPort)]);
    try {
      await waitForReady(second);
      const standin = standinUrlIn(second.output());
      const served = await fetch(`${broker}/token/users/${userId}`, { headers: { Authorization: `Bearer ${apiKey.key}` } });
      expect(served.status).toBe(200);
      const { access_token: accessToken } = (await served.json()) as { access_token: string };
      // The restarted stand-in still knows the token the broker kept.
      const validation = await fetch(`${standin}/oauth2/validate`, { headers: { Authorization: `OAuth ${accessToken}` } });
      expect(validation.status).toBe(200);
      expect(await validation.json()).toMatchObject({ user_id: userId, login: 'brand_new_tester' });
    } finally {
      expect(await interrupt(second)).toBe(0);
      await stopProcessGroup(second.child);
    }
  });
});
