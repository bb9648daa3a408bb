import * as z from 'zod/mini';

/** `:userId` in a path: Twitch user ids are decimal numbers. */
export const userIdParam = z.object({
  userId: z.string().check(z.regex(/^[0-9]{1,20}$/, 'must be a Twitch user id (digits)'), z.describe('a Twitch user id')),
});
