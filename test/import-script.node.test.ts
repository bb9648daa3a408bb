import { describe, expect, it } from 'vitest';
import { tokensIn } from '../scripts/import';

describe('npm run import reads the token files apps already have', () => {
  it("reads twurple's AccessToken shape (one file per user, as RefreshingAuthProvider examples keep it)", () => {
    const twurpleFile = { accessToken: 'a1', refreshToken: 'r1', scope: ['chat:read'], expiresIn: 14_000, obtainmentTimestamp: 1 };
    expect(tokensIn(twurpleFile)).toEqual([{ refresh_token: 'r1', access_token: 'a1' }]);
  });

  it('reads arrays, maps keyed by user id, and the snake_case shape', () => {
    expect(tokensIn([{ refreshToken: 'r1' }, { refresh_token: 'r2', access_token: 'a2' }])).toEqual([
      { refresh_token: 'r1' },
      { refresh_token: 'r2', access_token: 'a2' },
    ]);
    expect(tokensIn({ '100001': { refreshToken: 'r1', accessToken: 'a1' }, '100002': { refreshToken: 'r2' } })).toEqual([
      { refresh_token: 'r1', access_token: 'a1' },
      { refresh_token: 'r2' },
    ]);
  });

  it('skips entries without a refresh token (app tokens, junk)', () => {
    expect(tokensIn([{ accessToken: 'app-token', refreshToken: null }, 'junk', null, { refreshToken: '' }])).toEqual([]);
  });
});
