/**
 * The flags `npm start` reads itself; wrangler dev's own flags go to `wrangler dev` unchanged.
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

/**
 * The flags `wrangler dev` takes (wrangler 4.86, `wrangler dev --help`), which npm start passes on,
 * apart from its own three and help/version. Any other flag is a typo refused at once, rather than
 * after .dev.vars and the stand-in are set up. test/scripts/cli-help.node.test.ts compares this list
 * with the installed wrangler's, so an upgrade that adds a flag fails there, not for a user.
 */
export const WRANGLER_DEV_FLAGS: readonly string[] = [
  '--config',
  '-c',
  '--cwd',
  '--env',
  '-e',
  '--env-file',
  '--name',
  '--compatibility-date',
  '--compatibility-flags',
  '--compatibility-flag',
  '--latest',
  '--assets',
  '--no-bundle',
  '--ip',
  '--inspector-port',
  '--inspector-ip',
  '--routes',
  '--route',
  '--host',
  '--local-protocol',
  '--https-key-path',
  '--https-cert-path',
  '--local-upstream',
  '--upstream-protocol',
  '--var',
  '--define',
  '--alias',
  '--jsx-factory',
  '--jsx-fragment',
  '--tsconfig',
  '--remote',
  '-r',
  '--local',
  '-l',
  '--minify',
  '--live-reload',
  '--test-scheduled',
  '--log-level',
  '--show-interactive-dev-session',
  '--types',
  '--tunnel',
];

/** Whether wrangler dev takes `arg` (`--flag`, `--flag=value`, or yargs' `--no-flag` for a boolean). */
function isWranglerFlag(arg: string): boolean {
  const flag = arg.startsWith('--') ? arg.split('=')[0]! : arg;
  return WRANGLER_DEV_FLAGS.includes(flag) || (flag.startsWith('--no-') && WRANGLER_DEV_FLAGS.includes(`--${flag.slice('--no-'.length)}`));
}

function parsePort(flag: string, text: string | undefined): number {
  const port = Number(text);
  if (text === undefined || !/^\d+$/.test(text) || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new StartUsageError(`${flag} needs a port number between 1 and 65535, e.g. npm start -- ${flag} 9000`);
  }
  return port;
}

/**
 * Splits `npm start` arguments into our flags (`--name value` or `--name=value`) and wrangler dev's
 * (with their values, as given); an option neither takes is refused.
 */
export function parseStartArgs(args: string[]): StartOptions {
  const values = new Map<string, string | undefined>();
  const wranglerArgs: string[] = [];
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index]!;
    const flag = OUR_FLAGS.find((name) => arg === name || arg.startsWith(`${name}=`));
    if (flag === undefined) {
      // Values (`--var KEY:VALUE`) and wrangler's own flags pass; anything else dash-led is a typo.
      if (arg.startsWith('-') && !isWranglerFlag(arg)) throw new StartUsageError(`unknown option ${arg.split('=')[0]}`);
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
