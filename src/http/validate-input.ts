import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ValidationTargets } from 'hono';
import { validator } from 'hono-openapi';
import { invalidRequest } from '../errors';

/**
 * Input validation at the edge: failures become 400 `invalid_request` naming the offending field.
 * The schema also documents the input in /openapi.json (hono-openapi's `validator` is
 * `@hono/standard-validator` plus a marker), so the document cannot drift from what is enforced.
 */
export function validateInput<Target extends keyof ValidationTargets, Schema extends StandardSchemaV1>(target: Target, schema: Schema) {
  return validator(target, schema, (result) => {
    if (!result.success) {
      const issue = result.error[0];
      const field = issue?.path?.map((segment) => (typeof segment === 'object' ? segment.key : segment)).join('.') || target;
      throw invalidRequest(`${field}: ${issue?.message ?? 'invalid'}`);
    }
  });
}
