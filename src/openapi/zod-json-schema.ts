/**
 * What `zod/v4/core` resolves to in the Worker bundle (wrangler.toml `alias`): hono-openapi's
 * schema converter imports that whole namespace dynamically, every locale included, and only
 * ever uses `toJSONSchema`. The named re-export lets the bundler keep just the converter.
 */
export { toJSONSchema } from 'zod/mini';
