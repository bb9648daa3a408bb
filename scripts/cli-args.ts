/**
 * Argument parsing shared by every script behind `npm run` (scripts/ and bench/): `--help`/`-h`
 * prints the script's usage and exits 0; an unknown option or a bad value prints one line,
 * `<script>: <what is wrong> (see --help)`, to stderr and exits 2. Never a stack trace: the person
 * who mistyped a flag needs the flag named, not node:util's internals.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util';

/** Exit code for a command line the script cannot run (as `npm start` and `npm run api-key` used). */
export const USAGE_EXIT_CODE = 2;

/** What a string option's value must be: a number within bounds (an integer unless `fractions`), or one of a list. */
export type ValueRule = { min: number; max: number; fractions?: true } | { oneOf: readonly string[] };

/** A script's command line: node:util parseArgs options, plus what to call it and what --help prints. */
export interface CliSpec extends Omit<ParseArgsConfig, 'args' | 'strict' | 'tokens'> {
  /** The npm script name (`login`, `bench:sweep`): it starts every refusal. */
  script: string;
  /** What --help prints: how to run it, every option with its default, and the env vars it reads. */
  usage: string;
  /** Rules for string options' values (given or default), checked before the script sees them. */
  rules?: Record<string, ValueRule>;
}

/** Whether `args` ask for help (before any `--`, after which everything is a positional). */
export function wantsHelp(args: readonly string[]): boolean {
  const end = args.indexOf('--');
  return (end === -1 ? args : args.slice(0, end)).some((arg) => arg === '--help' || arg === '-h');
}

/** Prints the usage to stdout and exits 0. */
export function showUsage(usage: string): never {
  console.log(usage.trim());
  process.exit(0);
}

/** Prints `<script>: <problem> (see --help)` on one line to stderr and exits 2. */
export function refuse(script: string, problem: string): never {
  console.error(`${script}: ${problem.replace(/\s*\n\s*/g, ' ')} (see --help)`);
  process.exit(USAGE_EXIT_CODE);
}

/** node:util's parse error as one short line naming the argument. */
function problemOf(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string };
  const text = message ?? String(error);
  const quoted = text.match(/'([^']*)'/)?.[1] ?? '';
  // `'-y, --yes <value>'` names the option by its long form.
  const names = quoted.split(/[ ,]+/).filter((part) => part.startsWith('-'));
  const flag = names.find((name) => name.startsWith('--')) ?? names[0] ?? quoted;
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag}`;
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${quoted}`;
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE':
      if (/does not take an argument/.test(text)) return `${flag} takes no value`;
      // Missing, or the next argument is another option: `--url=-x` passes a value starting with a dash.
      return `${flag} needs a value`;
    default:
      return text.split('\n')[0]!;
  }
}

/** Why `text` breaks `rule`, or null when it does not. */
function brokenRule(flag: string, text: string, rule: ValueRule): string | null {
  if ('oneOf' in rule) return rule.oneOf.includes(text) ? null : `${flag} must be one of ${rule.oneOf.join(', ')}, not ${JSON.stringify(text)}`;
  const value = Number(text);
  const wellFormed = rule.fractions ? text.trim() !== '' && Number.isFinite(value) : /^\d+$/.test(text) && Number.isSafeInteger(value);
  if (wellFormed && value >= rule.min && value <= rule.max) return null;
  return `${flag} must be ${rule.fractions ? 'a number' : 'an integer'} from ${rule.min} to ${rule.max}, not ${JSON.stringify(text)}`;
}

/**
 * Parses `args` (default: this process's) strictly with node:util parseArgs and checks the values'
 * rules; answers --help and refuses what it cannot use, as described at the top of this file.
 */
export function parseCli<const Spec extends CliSpec>(spec: Spec, args: string[] = process.argv.slice(2)) {
  if (wantsHelp(args)) showUsage(spec.usage);
  const { script, usage: _usage, rules = {}, ...config } = spec;
  let parsed;
  try {
    parsed = parseArgs({ ...config, args, strict: true as const });
  } catch (error) {
    return refuse(script, problemOf(error));
  }
  for (const [name, rule] of Object.entries(rules)) {
    const value: unknown = (parsed.values as Record<string, unknown>)[name];
    const problem = typeof value === 'string' ? brokenRule(`--${name}`, value, rule) : null;
    if (problem !== null) refuse(script, problem);
  }
  return parsed;
}

/**
 * Ends the script on a failure it did not expect (a broker that is not running: `fetch failed`,
 * ECONNREFUSED) with one line, the error and its cause, and exit code 1.
 */
export function exitWithFailure(script: string, error: unknown): never {
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : '';
  console.error(`${script}: ${error instanceof Error ? error.message : String(error)}${cause}`);
  process.exit(1);
}
