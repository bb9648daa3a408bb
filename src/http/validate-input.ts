import { sValidator } from '@hono/standard-validator';
import type { StandardSchemaV1 } from '@standard-schema/spec';
import type { ValidationTargets } from 'hono';
import { invalidRequest } from '../errors';

/** Input validation at the edge: failures become 400 `invalid_request` naming the offending field. */
export function validateInput<Target extends keyof ValidationTargets, Schema extends StandardSchemaV1>(
  target: Target,
  schema: Schema,
) {
  return sValidator(target, schema, (result) => {
    if (!result.success) {
      const issue = result.error[0];
      const field = issue?.path?.map((segment) => (typeof segment === 'object' ? segment.key : segment)).join('.') || target;
      throw invalidRequest(`${field}: ${issue?.message ?? 'invalid'}`);
    }
  });
}
