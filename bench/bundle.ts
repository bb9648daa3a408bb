import { execFile } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';
import { parseCli } from '../scripts/cli-args';

/**
 * The deployable bundle's size, measured on what `wrangler deploy` would upload (a dry run with
 * the project's wrangler.toml, so `minify` there applies), and what takes the space in it.
 */

export interface BundleSize {
  bytes: number;
  gzipBytes: number;
  /** Wrangler's own "Total Upload: … / gzip: …" line, as a cross-check. */
  wranglerReport: string | null;
}

/** Gzipped size of the Worker as `wrangler deploy --dry-run` bundles it. */
export async function measureBundle(): Promise<BundleSize> {
  const outdir = mkdtempSync(join(tmpdir(), 'ttb-bundle-'));
  try {
    const { stdout, stderr } = await promisify(execFile)('npx', ['wrangler', 'deploy', '--dry-run', '--outdir', outdir], {
      timeout: 120_000,
      env: { ...process.env, CI: '1', WRANGLER_SEND_METRICS: 'false' },
    });
    const modules = readdirSync(outdir).filter((name) => name.endsWith('.js') || name.endsWith('.mjs'));
    let bytes = 0;
    let gzipBytes = 0;
    for (const name of modules) {
      const content = readFileSync(join(outdir, name));
      bytes += content.length;
      gzipBytes += gzipSync(content).length;
    }
    const wranglerReport = `${stdout}\n${stderr}`.match(/Total Upload:[^\n]*/)?.[0]?.trim() ?? null;
    return { bytes, gzipBytes, wranglerReport };
  } finally {
    rmSync(outdir, { recursive: true, force: true });
  }
}

/** Bytes of minified output per package (or `src`), from esbuild's metafile. */
export async function bundleComposition(): Promise<{ source: string; bytes: number }[]> {
  const result = await build({
    entryPoints: ['src/index.ts'],
    bundle: true,
    minify: true,
    format: 'esm',
    platform: 'neutral',
    target: 'es2022',
    conditions: ['workerd', 'worker', 'browser'],
    mainFields: ['module', 'main'],
    external: ['cloudflare:*', 'node:*'],
    // As wrangler.toml's `alias`, so this counts what `wrangler deploy` ships.
    alias: { 'zod/v4/core': './src/openapi/zod-json-schema.ts' },
    metafile: true,
    write: false,
    outfile: 'index.js',
    logLevel: 'silent',
  });
  const totals = new Map<string, number>();
  for (const output of Object.values(result.metafile.outputs)) {
    for (const [path, input] of Object.entries(output.inputs)) {
      const match = path.match(/node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/);
      let source = match ? match[1]! : 'src';
      if (source === 'zod') source = match![2]!.includes('/mini/') ? 'zod (mini)' : 'zod (core)';
      totals.set(source, (totals.get(source) ?? 0) + input.bytesInOutput);
    }
  }
  return [...totals].map(([source, bytes]) => ({ source, bytes })).sort((a, b) => b.bytes - a.bytes);
}

const USAGE = `
Usage: npm run bench:bundle

Measures the deployable bundle: its size as \`wrangler deploy --dry-run\` bundles it (with
wrangler.toml's settings), gzipped, and what takes the space in it (esbuild's metafile).

Options:
  -h, --help   print this and exit

Environment: BENCH_SMOKE=1 runs a shrunk version in seconds (figures meaningless, nothing written to bench/results/).
Exit code: 0 measured; 1 the dry run failed.
`;

async function main(): Promise<void> {
  parseCli({ script: 'bench:bundle', usage: USAGE, options: {} });
  const size = await measureBundle();
  console.log(`bundle: ${(size.bytes / 1024).toFixed(1)} KiB, gzip ${(size.gzipBytes / 1024).toFixed(1)} KiB (wrangler: ${size.wranglerReport ?? 'n/a'})`);
  const composition = await bundleComposition();
  const total = composition.reduce((sum, part) => sum + part.bytes, 0);
  console.log(`minified composition (esbuild metafile, ${(total / 1024).toFixed(1)} KiB before gzip):`);
  for (const part of composition) {
    console.log(`  ${part.source.padEnd(22)} ${(part.bytes / 1024).toFixed(1).padStart(6)} KiB  ${((100 * part.bytes) / total).toFixed(0).padStart(3)}%`);
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
