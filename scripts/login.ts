/**
 * `npm run login -- --scopes chat:read chat:edit [--url URL]`: logs a bot account in from a
 * terminal with Twitch's device code flow, through the broker (which keeps the device code and the
 * tokens). Prints the code and where to enter it, waits, prints who logged in.
 *
 * The API key (scope users) comes from BROKER_API_KEY, or for a local broker from .dev.api-key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Started {
  user_code: string;
  verification_uri: string;
  expires_in: number;
  interval: number;
  poll_token: string;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { scopes: { type: 'string' }, url: { type: 'string' } } });
  const scopes = [values.scopes, ...positionals].filter((scope): scope is string => Boolean(scope)).join(' ');
  const baseUrl = (values.url ?? process.env['BROKER_URL'] ?? 'http://localhost:8787').replace(/\/+$/, '');
  const apiKey = process.env['BROKER_API_KEY'] ?? (existsSync('.dev.api-key') ? readFileSync('.dev.api-key', 'utf8').trim() : '');
  if (!apiKey) {
    console.error('set BROKER_API_KEY to an API key of scope users (npm run api-key -- my-bot users)');
    process.exit(2);
  }
  const call = async (path: string, body: unknown) =>
    fetch(`${baseUrl}${path}`, { method: 'POST', headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

  const response = await call('/device', scopes ? { scope: scopes } : {});
  if (!response.ok) {
    const failure = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
    console.error(`could not start: ${response.status} ${failure.error ?? ''} ${failure.error_description ?? ''}`);
    process.exit(1);
  }
  const started = (await response.json()) as Started;
  console.log(`\nOn any device, open ${started.verification_uri}\nand enter the code  ${started.user_code}\n(valid ${Math.round(started.expires_in / 60)} minutes; waiting…)\n`);

  let intervalMs = started.interval * 1000;
  const deadline = Date.now() + started.expires_in * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const answer = await call('/device/poll', { poll_token: started.poll_token });
    const body = (await answer.json().catch(() => ({}))) as { error?: string; error_description?: string; user_id?: string; login?: string; scopes?: string[] };
    if (answer.ok) {
      console.log(`Logged in: ${body.login} (${body.user_id}) with ${body.scopes?.join(' ') || 'no scopes'}`);
      return;
    }
    if (body.error === 'authorization_pending') continue;
    if (body.error === 'slow_down') {
      intervalMs += 5_000;
      continue;
    }
    if (answer.status === 503) continue;
    console.error(`${body.error ?? answer.status}: ${body.error_description ?? ''}`);
    process.exit(1);
  }
  console.error('the code expired: run npm run login again');
  process.exit(1);
}

await main();
