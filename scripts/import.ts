/**
 * `npm run import -- tokens.json [more.json…] [--url URL] [--batch N]`: moves users whose refresh
 * tokens your app kept (twurple's RefreshingAuthProvider files, or any JSON with the same shape)
 * into the broker, without a new login. Each file may hold one token object, an array of them, or
 * an object whose values are token objects (e.g. keyed by user id). A token object is twurple's
 * `AccessToken` (`{accessToken, refreshToken, …}`) or the broker's own (`{access_token, refresh_token}`).
 *
 * The API key (scope admin) comes from BROKER_API_KEY, or for a local broker from .dev.api-key.
 * Each refresh token sent is spent by the broker's refresh: your app's copies stop working, so
 * switch the app over to the broker right after. Nothing read is printed; only user ids and logins.
 */
import { existsSync, readFileSync } from 'node:fs';
import { exitWithFailure, parseCli, refuse, USAGE_EXIT_CODE } from './cli-args';

interface SentToken {
  refresh_token: string;
  access_token?: string;
}

interface ImportAnswer {
  imported: { user_id: string; login: string; scopes: string[] }[];
  failed: { index: number; error: string; error_description: string }[];
}

/** The broker accepts up to 100 per call; 10 keeps one call within the Free plan's 50 subrequests. */
const DEFAULT_BATCH = 10;

const USAGE = `
Usage: npm run import -- tokens.json [more.json…] [--url URL] [--batch N]

Moves users whose refresh tokens your app kept into the broker, without a new login. Each file
holds one token object, an array of them, or an object whose values are token objects; a token
object is twurple's AccessToken ({accessToken, refreshToken, …}) or {access_token, refresh_token}.
Each refresh token sent is spent: your app's copies stop working, so switch the app over right after.

Options:
  --url URL       the broker (default: $BROKER_URL, else http://localhost:8787)
  --batch N       tokens per request, 1 to 100 (default: ${DEFAULT_BATCH})
  -h, --help      print this and exit

Environment:
  BROKER_URL      the broker, when --url is not given
  BROKER_API_KEY  an API key of scope admin (default: the local one in .dev.api-key)

Exit code: 0 every token imported; 1 a token or a request failed; 2 bad arguments or no API key.
`;

/** Every token object found in one parsed file. */
export function tokensIn(parsed: unknown): SentToken[] {
  const candidates = Array.isArray(parsed)
    ? parsed
    : parsed && typeof parsed === 'object' && !('refreshToken' in parsed) && !('refresh_token' in parsed)
      ? Object.values(parsed)
      : [parsed];
  return candidates.flatMap((candidate): SentToken[] => {
    if (!candidate || typeof candidate !== 'object') return [];
    const record = candidate as Record<string, unknown>;
    const refreshToken = record.refreshToken ?? record.refresh_token;
    const accessToken = record.accessToken ?? record.access_token;
    if (typeof refreshToken !== 'string' || refreshToken === '') return [];
    return [typeof accessToken === 'string' && accessToken ? { refresh_token: refreshToken, access_token: accessToken } : { refresh_token: refreshToken }];
  });
}

/** A token file, parsed; an unreadable or malformed one stops the import before anything is sent. */
function readTokenFile(file: string): unknown {
  try {
    return JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    // The message names the file and what is wrong with it, never the file's content.
    const reason = error instanceof SyntaxError ? 'not JSON' : ((error as NodeJS.ErrnoException).code ?? 'unreadable');
    console.error(`import: ${file}: ${reason}`);
    process.exit(USAGE_EXIT_CODE);
  }
}

async function main(): Promise<void> {
  const { values, positionals } = parseCli({
    script: 'import',
    usage: USAGE,
    allowPositionals: true,
    options: { url: { type: 'string' }, batch: { type: 'string' } },
    rules: { batch: { min: 1, max: 100 } },
  });
  if (positionals.length === 0) refuse('import', 'name at least one token file, e.g. npm run import -- tokens.json');
  const batch = Number(values.batch ?? DEFAULT_BATCH);
  const baseUrl = (values.url ?? process.env.BROKER_URL ?? 'http://localhost:8787').replace(/\/+$/, '');
  if (!URL.canParse(baseUrl) || !/^https?:$/.test(new URL(baseUrl).protocol))
    refuse('import', `the broker URL must be http(s)://…, not ${JSON.stringify(baseUrl)}`);
  const apiKey = process.env.BROKER_API_KEY ?? (existsSync('.dev.api-key') ? readFileSync('.dev.api-key', 'utf8').trim() : '');
  if (!apiKey) {
    console.error('import: set BROKER_API_KEY to an API key of scope admin (npm run api-key -- importer admin)');
    process.exit(USAGE_EXIT_CODE);
  }
  const tokens = positionals.flatMap((file) => tokensIn(readTokenFile(file)));
  console.log(`${tokens.length} token(s) found in ${positionals.length} file(s); importing into ${baseUrl} in batches of ${batch}`);

  let imported = 0;
  let failed = 0;
  for (let start = 0; start < tokens.length; start += batch) {
    const response = await fetch(`${baseUrl}/admin/users/import`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${apiKey}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ tokens: tokens.slice(start, start + batch) }),
    });
    if (!response.ok) {
      const body = (await response.json().catch(() => ({}))) as { error?: string; error_description?: string };
      console.error(`batch from #${start}: ${response.status} ${body.error ?? ''} ${body.error_description ?? ''}`);
      process.exit(1);
    }
    const answer = (await response.json()) as ImportAnswer;
    for (const user of answer.imported) console.log(`  imported ${user.login} (${user.user_id}): ${user.scopes.join(' ')}`);
    for (const failure of answer.failed) console.log(`  token #${start + failure.index}: ${failure.error}: ${failure.error_description}`);
    imported += answer.imported.length;
    failed += answer.failed.length;
  }
  console.log(`${imported} imported, ${failed} failed`);
  if (failed > 0) process.exitCode = 1;
}

if (process.argv[1]?.endsWith('import.ts')) {
  await main().catch((error: unknown) => exitWithFailure('import', error));
}
