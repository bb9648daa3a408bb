/**
 * `npm run login -- --scopes chat:read chat:edit [--url URL]` (options: USAGE below): logs a bot account in from a
 * terminal with Twitch's device code flow, through the broker (which keeps the device code and the
 * tokens). Prints the code and where to enter it, waits, prints who logged in.
 *
 * The API key (scope users) comes from BROKER_API_KEY, or for a local broker from .dev.api-key.
 */
import { existsSync, readFileSync } from 'node:fs';
import { exitWithFailure, parseCli, refuse, USAGE_EXIT_CODE } from './cli-args';

const USAGE = `
Usage: npm run login -- [--scopes "chat:read chat:edit"] [more scopes…] [--url URL]

Logs a bot account in with Twitch's device code flow, through the broker (which keeps the device
code and the tokens): prints a code and where to enter it, waits while you approve on any device,
then prints who logged in and the scopes the broker stored.

Options:
  --scopes LIST   space-separated Twitch scopes; further arguments are scopes too
                  (default: none, so the broker asks for its DEFAULT_SCOPES)
  --url URL       the broker (default: $BROKER_URL, else http://localhost:8787)
  -h, --help      print this and exit

Environment:
  BROKER_URL      the broker, when --url is not given
  BROKER_API_KEY  an API key of scope users (default: the local one in .dev.api-key)

Exit code: 0 logged in with every scope asked for; 1 refused, expired, or the broker kept a stored
grant lacking a scope asked for (the script says which and how to widen it); 2 bad arguments or no API key.
`;

interface Started {
  user_code: string;
  verification_uri: string;
  expires_in: number;
  interval: number;
  poll_token: string;
}

/** What POST /device/poll answers (docs/endpoints.md: the /device/poll row). */
interface PollAnswer {
  error?: string;
  error_description?: string;
  user_id?: string;
  login?: string;
  scopes?: string[];
  grant_kept?: true;
  stored_scopes?: string[];
  authorize_url?: string;
}

/**
 * What to print when the broker kept a broader stored grant instead of this login's (whose tokens it
 * revoked): the scopes the bot really holds, those it asked for but did not get, and how to change that.
 */
function keptGrantReport(body: PollAnswer, baseUrl: string): { text: string; notStored: string[] } {
  const stored = body.stored_scopes ?? [];
  const granted = body.scopes ?? [];
  const notStored = granted.filter((scope) => !stored.includes(scope));
  const lacking = stored.filter((scope) => !granted.includes(scope) && scope !== 'openid');
  const both = [...new Set([...stored, ...granted])].filter((scope) => scope !== 'openid');
  // An older broker answers a path or nothing: make it a URL on the broker this script talks to.
  const authorizeUrl = body.authorize_url
    ? new URL(body.authorize_url, `${baseUrl}/`).href
    : `${baseUrl}/authorize?${new URLSearchParams({ scope: both.join(' ') })}`;
  const lines = [
    `Approved, but the broker kept the grant it already stored for ${body.login} (${body.user_id}):`,
    `this login lacked ${lacking.join(' ') || 'a stored scope'}, and a login never narrows a stored grant (its new tokens were revoked).`,
    `  stored scopes: ${stored.join(' ') || '(none)'}`,
    `  not stored: ${notStored.join(' ') || '(none: the stored grant holds every scope asked for)'}`,
  ];
  if (notStored.length > 0) {
    lines.push(
      'To widen the stored grant, log in asking for the stored scopes too:',
      `  npm run login -- --scopes ${both.join(' ')}`,
      `  or in a browser signed in to Twitch as ${body.login}: ${authorizeUrl}`,
    );
  }
  lines.push(`To drop stored scopes for good, remove the grant first (API key of scope users): DELETE /token/users/${body.user_id}, then log in again.`);
  return { text: lines.join('\n'), notStored };
}

async function main(): Promise<void> {
  const { values, positionals } = parseCli({
    script: 'login',
    usage: USAGE,
    allowPositionals: true,
    options: { scopes: { type: 'string' }, url: { type: 'string' } },
  });
  const scopes = [values.scopes, ...positionals].filter((scope): scope is string => Boolean(scope)).join(' ');
  const baseUrl = (values.url ?? process.env.BROKER_URL ?? 'http://localhost:8787').replace(/\/+$/, '');
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol))
    refuse('login', `the broker URL must be http(s)://…, not ${JSON.stringify(baseUrl)}`);
  const apiKey = process.env.BROKER_API_KEY ?? (existsSync('.dev.api-key') ? readFileSync('.dev.api-key', 'utf8').trim() : '');
  if (!apiKey) {
    console.error('login: set BROKER_API_KEY to an API key of scope users (npm run api-key -- my-bot users)');
    process.exit(USAGE_EXIT_CODE);
  }
  const call = async (path: string, body: unknown) =>
    fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });

  const response = await call('/device', scopes ? { scope: scopes } : {});
  if (!response.ok) {
    const failure = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
    console.error(`could not start: ${response.status} ${failure.error ?? ''} ${failure.error_description ?? ''}`);
    process.exit(1);
  }
  const started = (await response.json()) as Started;
  console.log(
    `\nOn any device, open ${started.verification_uri}\nand enter the code  ${started.user_code}\n(valid ${Math.round(started.expires_in / 60)} minutes; waiting…)\n`,
  );

  let intervalMs = started.interval * 1000;
  const deadline = Date.now() + started.expires_in * 1000;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
    const answer = await call('/device/poll', { poll_token: started.poll_token });
    const body = (await answer.json().catch(() => ({}))) as PollAnswer;
    if (answer.ok) {
      if (!body.grant_kept) {
        console.log(`Logged in: ${body.login} (${body.user_id}) with ${body.scopes?.join(' ') || 'no scopes'}`);
        return;
      }
      const report = keptGrantReport(body, baseUrl);
      console.log(report.text);
      // Exit 1 when the bot does not hold what was asked for, so a provisioning script notices.
      if (report.notStored.length > 0) process.exit(1);
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

await main().catch((error: unknown) => exitWithFailure('login', error));
