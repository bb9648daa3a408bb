import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { freePort, type DevServer } from '../test/e2e/dev-server';

/**
 * `wrangler dev` for the benchmark: test/e2e/dev-server.ts adapted so that stopping it stops
 * everything it started. That helper signals `npx`, whose grandchildren (wrangler, workerd)
 * survive it; they keep this process's stdout pipes open, so the benchmark would not exit. Here
 * wrangler runs directly under Node in its own process group, and stopping signals that group.
 */
export async function startDevServer(vars: Record<string, string>): Promise<DevServer> {
  const wranglerBin = join(dirname(createRequire(import.meta.url).resolve('wrangler/package.json')), 'bin', 'wrangler.js');
  const port = await freePort();
  const inspectorPort = await freePort();
  const persistTo = mkdtempSync(join(tmpdir(), 'ttb-bench-'));
  const args = [wranglerBin, 'dev', '--ip', '127.0.0.1', '--port', String(port), '--inspector-port', String(inspectorPort),
    '--persist-to', persistTo, '--test-scheduled', '--log-level', 'warn'];
  for (const [name, value] of Object.entries(vars)) args.push('--var', `${name}:${value}`);
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
    env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false' },
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const group = child.pid!;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-group, signal);
    } catch {
      // the whole group has already exited
    }
  };
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      signalGroup('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 5000))]);
    }
    // Anything of ours still running in the group (workerd mid-shutdown) goes now.
    signalGroup('SIGKILL');
    child.stdout.destroy();
    child.stderr.destroy();
    rmSync(persistTo, { recursive: true, force: true });
  };
  const deadline = Date.now() + 90_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`wrangler dev exited early:\n${output}`);
    }
    try {
      const response = await fetch(`${url}/health`, { signal: AbortSignal.timeout(5000) });
      if (response.ok) return { url, output: () => output, stop };
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  await stop();
  throw new Error(`wrangler dev did not answer /health within 90 s:\n${output}`);
}
