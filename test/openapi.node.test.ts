import { Validator } from '@seriousme/openapi-schema-validator';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from './e2e/dev-server';

const REPOSITORY = fileURLToPath(new URL('..', import.meta.url));
/** Redocly CLI's entry point, run with this Node (as `npm run lint:openapi` does). */
const REDOCLY = join(REPOSITORY, 'node_modules/@redocly/cli/bin/cli.js');

interface RedoclyReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: Array<{ ruleId: string; severity: string; message: string; location: Array<{ pointer: string }> }>;
}

/** Lints `document` with redocly.yaml (the recommended rules) and returns Redocly's JSON report. */
async function redoclyLint(document: unknown): Promise<RedoclyReport> {
  const folder = mkdtempSync(join(tmpdir(), 'ttb-openapi-'));
  try {
    const file = join(folder, 'openapi.json');
    writeFileSync(file, JSON.stringify(document));
    const args = [REDOCLY, 'lint', '--config', join(REPOSITORY, 'redocly.yaml'), '--format=json', file];
    // Exits 1 on errors (the report is on stdout all the same); warnings exit 0, so the report decides.
    const { stdout } = await promisify(execFile)(process.execPath, args, {
      cwd: REPOSITORY,
      env: { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true' },
    }).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? '' }));
    return JSON.parse(stdout) as RedoclyReport;
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

/**
 * The document the deployable bundle serves (minified, under `wrangler dev`), checked by an
 * independent OpenAPI validator. It runs in Node: the validator compiles its JSON Schemas with
 * `new Function`, which workerd forbids.
 */

let broker: DevServer;

beforeAll(async () => {
  // No settings needed: the document does not depend on configuration.
  broker = await startDevServer({});
});

afterAll(async () => {
  await broker?.stop();
});

describe('GET /openapi.json from the built Worker', () => {
  it('is valid OpenAPI 3.1 according to @seriousme/openapi-schema-validator, with every $ref resolving', async () => {
    const response = await fetch(`${broker.url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as Record<string, unknown>;

    const validator = new Validator();
    const result = await validator.validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    // Throws on a $ref that points nowhere.
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("passes Redocly's recommended rules (redocly.yaml) with no error and no warning", async () => {
    const document = await (await fetch(`${broker.url}/openapi.json`)).json();
    const report = await redoclyLint(document);
    const problems = report.problems.map((problem) => `${problem.severity} ${problem.ruleId} at ${problem.location[0]?.pointer}: ${problem.message}`);
    expect(problems).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
  });

  it('serves the reference page at /docs', async () => {
    const response = await fetch(`${broker.url}/docs`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GET /token/users/{userId}');
  });
});
