import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDevServer, type DevServer } from './e2e/dev-server';

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

  it('serves the reference page at /docs', async () => {
    const response = await fetch(`${broker.url}/docs`);
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('GET /token/users/{userId}');
  });
});
