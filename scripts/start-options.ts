/**
 * The flags `npm start` reads itself; everything else goes to `wrangler dev` unchanged.
 * Kept apart from start.ts so the rules can be tested without starting anything.
 */

/** What `npm start -- …` asked for. Ports are undefined when not given. */
export interface StartOptions {
  /** The broker's port (`--port`, wrangler's own flag). */
  brokerPort: number | undefined;
  /** The local Twitch stand-in's port (`--twitch-port`). */
  twitchPort: number | undefined;
  /** Where wrangler keeps local KV and Durable Objects (`--persist-to`, wrangler's own flag). */
  persistTo: string | undefined;
  /** The remaining arguments, for wrangler. */
  wranglerArgs: string[];
}

/** A flag given wrongly: the message says what to pass instead. */
export class StartUsageError extends Error {}

const OUR_FLAGS = ['--port', '--twitch-port', '--persist-to'] as const;

function parsePort(flag: string, text: string | undefined): number {
  const port = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StartUsageError(`${flag} needs a port number between 1 and 65535, e.g. npm start -- ${flag} 9000`);
  }
  return port;
}

/** Splits `npm start` arguments into our flags (`--name value` or `--name=value`) and wrangler's. */
export function parseStartArgs(args: string[]): StartOptions {
  const values = new Map<string, string | undefined>();
  const wranglerArgs: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    const flag = OUR_FLAGS.find((name) => arg === name || arg.startsWith(`${name}=`));
    if (flag === undefined) {
      wranglerArgs.push(arg);
    } else if (arg === flag) {
      values.set(flag, args[index + 1]);
      index += 1;
    } else {
      values.set(flag, arg.slice(flag.length + 1));
    }
  }
  const persistTo = values.get('--persist-to');
  if (values.has('--persist-to') && !persistTo) throw new StartUsageError('--persist-to needs a folder, e.g. npm start -- --persist-to .wrangler/other');
  return {
    brokerPort: values.has('--port') ? parsePort('--port', values.get('--port')) : undefined,
    twitchPort: values.has('--twitch-port') ? parsePort('--twitch-port', values.get('--twitch-port')) : undefined,
    persistTo,
    wranglerArgs,
  };
}
