/**
 * Edits wrangler.toml as text, one line or one appended block at a time, so every comment in it
 * survives (a TOML parser would drop them). `env` null means the top level; a name means that
 * wrangler environment's tables (`[env.<name>.vars]`, `[[env.<name>.kv_namespaces]]`).
 */

/** A problem with wrangler.toml that the person running setup can fix. */
export class TomlError extends Error {}

interface Section {
  /** The table's name as written between the brackets, e.g. `vars` or `env.staging.kv_namespaces`. */
  table: string;
  /** Offset of the header line. */
  start: number;
  /** Offset just after the header line. */
  bodyStart: number;
  /** Offset of the next header line (or the end of the file). */
  end: number;
}

function sections(toml: string): Section[] {
  const headers = [...toml.matchAll(/^\[\[?\s*([^\]\s]+)\s*\]\]?[ \t]*(?:#.*)?$/gm)];
  return headers.map((header, i) => {
    const start = header.index;
    const lineEnd = toml.indexOf('\n', start);
    return {
      table: header[1]!,
      start,
      bodyStart: lineEnd < 0 ? toml.length : lineEnd + 1,
      end: i + 1 < headers.length ? headers[i + 1]!.index : toml.length,
    };
  });
}

const tableOf = (env: string | null, table: string): string => (env === null ? table : `env.${env}.${table}`);

/** A wrangler environment name: what `--env` accepts and a TOML bare key allows. */
export const ENV_NAME = /^[A-Za-z0-9_-]{1,64}$/;

/** The top-level Worker name. */
export function workerName(toml: string): string {
  const firstSection = sections(toml)[0]?.start ?? toml.length;
  const name = toml.slice(0, firstSection).match(/^name\s*=\s*"([^"]+)"/m)?.[1];
  if (name === undefined) throw new TomlError('wrangler.toml has no top-level name');
  return name;
}

/** Whether wrangler.toml has any table of environment `env`. */
export function hasEnv(toml: string, env: string): boolean {
  return sections(toml).some((section) => section.table === `env.${env}` || section.table.startsWith(`env.${env}.`));
}

/** Sets `name = "value"` in the [vars] of the top level or of `env`, adding the line if absent. */
export function withVar(toml: string, env: string | null, name: string, value: string): string {
  const table = tableOf(env, 'vars');
  const section = sections(toml).find((candidate) => candidate.table === table);
  const line = `${name} = ${JSON.stringify(value)}`;
  if (section === undefined) {
    // An environment's tables may come in any order: its [vars] can go at the end.
    if (env !== null) return `${toml.replace(/\n*$/, '\n')}\n[${table}]\n${line}\n`;
    throw new TomlError(`wrangler.toml has no [${table}] section`);
  }
  const body = toml.slice(section.bodyStart, section.end);
  const pattern = new RegExp(`^${name}\\s*=.*$`, 'm');
  const updated = pattern.test(body) ? body.replace(pattern, line) : `${body.replace(/\n*$/, '\n')}${line}\n\n`;
  return toml.slice(0, section.bodyStart) + updated + toml.slice(section.end);
}

/** The `[[kv_namespaces]]` block (top level or `env`'s) that binds `binding`. */
function kvSection(toml: string, env: string | null, binding: string): Section | undefined {
  const table = tableOf(env, 'kv_namespaces');
  return sections(toml).find(
    (section) => section.table === table && new RegExp(`^binding\\s*=\\s*"${binding}"`, 'm').test(toml.slice(section.bodyStart, section.end)),
  );
}

/** The id of the KV namespace bound as `binding`, if wrangler.toml names one. */
export function kvIdIn(toml: string, env: string | null, binding: string): string | undefined {
  const section = kvSection(toml, env, binding);
  return section && toml.slice(section.bodyStart, section.end).match(/^id\s*=\s*"([0-9a-f]{32})"/m)?.[1];
}

/** Writes the KV namespace id into the block binding `binding`: replaces its id line, or adds one under `binding`. */
export function withKvId(toml: string, env: string | null, binding: string, id: string): string {
  const section = kvSection(toml, env, binding);
  if (section === undefined) {
    if (env !== null) return `${toml.replace(/\n*$/, '\n')}\n[[${tableOf(env, 'kv_namespaces')}]]\nbinding = "${binding}"\nid = "${id}"\n`;
    throw new TomlError(`wrangler.toml has no [[kv_namespaces]] block with binding = "${binding}"`);
  }
  const body = toml.slice(section.bodyStart, section.end);
  const updated = /^id\s*=.*$/m.test(body)
    ? body.replace(/^id\s*=.*$/m, `id = "${id}"`)
    : body.replace(new RegExp(`^(binding\\s*=\\s*"${binding}".*)$`, 'm'), `$1\nid = "${id}"`);
  return toml.slice(0, section.bodyStart) + updated + toml.slice(section.end);
}

/**
 * A rate-limiting namespace id no [[ratelimits]] block of the file uses. The id is account-wide
 * (Workers sharing one share counters), so it is drawn at random from a range other Workers'
 * copied examples (1001, …) stay out of.
 */
export function freshNamespaceId(toml: string, random: () => number = Math.random): string {
  const taken = new Set([...toml.matchAll(/^namespace_id\s*=\s*"?(\d+)"?/gm)].map((match) => match[1]));
  for (;;) {
    const id = String(100_000 + Math.floor(random() * 900_000_000));
    if (!taken.has(id)) return id;
  }
}

/**
 * Appends a section for environment `env`, built from the top level: its own Worker name, the
 * top-level [vars] (values to be replaced), the KV binding without an id, every Durable Object
 * binding, and each rate limiter with a namespace id of its own (an environment sharing the top
 * level's would share its counters). Wrangler does not inherit bindings or vars into an
 * environment; it does inherit the cron trigger, the migrations and everything else, so those are
 * not repeated.
 */
export function withEnvSection(toml: string, env: string, random: () => number = Math.random): string {
  if (!ENV_NAME.test(env)) throw new TomlError(`"${env}" is not a wrangler environment name (letters, digits, - and _)`);
  const all = sections(toml);
  const bodyOf = (section: Section) => toml.slice(section.bodyStart, section.end);
  const vars = all.find((section) => section.table === 'vars');
  const varLines = vars
    ? bodyOf(vars)
        .split('\n')
        .filter((line) => /^[A-Z0-9_]+\s*=/.test(line))
    : [];
  const kvBindings = all
    .filter((section) => section.table === 'kv_namespaces')
    .map((section) => bodyOf(section).match(/^binding\s*=\s*"([^"]+)"/m)?.[1])
    .filter((binding): binding is string => binding !== undefined);
  const durableObjects = all
    .filter((section) => section.table === 'durable_objects.bindings')
    .map((section) => ({ name: bodyOf(section).match(/^name\s*=\s*"([^"]+)"/m)?.[1], className: bodyOf(section).match(/^class_name\s*=\s*"([^"]+)"/m)?.[1] }))
    .filter((binding): binding is { name: string; className: string } => binding.name !== undefined && binding.className !== undefined);
  // `simple = { … }` inline, or (as in Cloudflare's docs) a [ratelimits.simple] table right after the block.
  const rateLimiters = all.flatMap((section, index) => {
    if (section.table !== 'ratelimits') return [];
    const lines = bodyOf(section).split('\n');
    const name = lines.find((line) => /^name\s*=/.test(line));
    let simple = lines.find((line) => /^simple\s*=/.test(line));
    const next = all[index + 1];
    if (simple === undefined && next?.table === 'ratelimits.simple') {
      const fields = bodyOf(next)
        .split('\n')
        .filter((line) => /^(limit|period)\s*=/.test(line))
        .map((line) => line.replace(/\s*#.*$/, '').trim());
      if (fields.length === 2) simple = `simple = { ${fields.join(', ')} }`;
    }
    if (name === undefined || simple === undefined)
      throw new TomlError('a [[ratelimits]] block has no name or no simple = { limit, period }: copy it into the environment by hand');
    return [[name, simple]];
  });
  let idsTaken = toml;
  const namespaceId = () => {
    const id = freshNamespaceId(idsTaken, random);
    idsTaken += `\nnamespace_id = "${id}"`;
    return id;
  };

  const block = [
    '',
    `# Environment "${env}" (npm run setup -- --env ${env}): its own Worker, KV namespace, Durable Objects,`,
    '# login rate-limit counters and secrets. Wrangler does not inherit bindings or [vars] into an',
    '# environment, so they are repeated here; the cron trigger, the migrations and the build settings',
    '# above are inherited.',
    `[env.${env}]`,
    `name = "${workerName(toml)}-${env}"`,
    '',
    `[env.${env}.vars]`,
    ...varLines,
    '',
    ...kvBindings.flatMap((binding) => [`[[env.${env}.kv_namespaces]]`, `binding = "${binding}"`, '']),
    ...durableObjects.flatMap(({ name, className }) => [`[[env.${env}.durable_objects.bindings]]`, `name = "${name}"`, `class_name = "${className}"`, '']),
    ...rateLimiters.flatMap((lines) => [`[[env.${env}.ratelimits]]`, ...lines, `namespace_id = "${namespaceId()}"`, '']),
  ];
  return `${toml.replace(/\n*$/, '\n')}${block.join('\n')}`;
}
