import { Hono } from 'hono';
import { SignJWT, exportJWK, generateKeyPair, type JWK } from 'jose';
import { bearerTokenFrom, jsonResponse, twitchError, type StandinEnv } from './http';
import type { AccessTokenRecord, AuthorizationCodeRecord, StandinUser } from './model';
import type { StandinState } from './state';

const SIGNING_KEY_ID = '1';
// Seen in captured Twitch id_tokens: exp - iat = 900.
const ID_TOKEN_LIFETIME_SECONDS = 900;
// Twitch's captured userinfo has updated_at as an RFC 3339 string, not OIDC's number; we copy Twitch.
const USER_UPDATED_AT = '2024-01-01T00:00:00.000000Z';

interface SigningKeys {
  privateKey: CryptoKey;
  publicJwk: JWK;
}

/** Holds the RS256 key pair (made once per stand-in, kept across resets) and signs id_tokens with it. */
export class OidcSigner {
  private keys: Promise<SigningKeys> | undefined;

  // Made on first use rather than at construction: test suites create many stand-ins and most never touch OIDC,
  // and each RSA key generation costs tens of milliseconds of thread-pool time.
  private signingKeys(): Promise<SigningKeys> {
    this.keys ??= generateKeyPair('RS256', { extractable: true }).then(async ({ privateKey, publicKey }) => ({
      privateKey,
      publicJwk: { ...(await exportJWK(publicKey)), alg: 'RS256', kid: SIGNING_KEY_ID, use: 'sig' },
    }));
    return this.keys;
  }

  /** The JWKS served at /oauth2/keys. */
  async jwks(): Promise<{ keys: JWK[] }> {
    return { keys: [(await this.signingKeys()).publicJwk] };
  }

  /** Signs claims as an RS256 JWT whose header names key "1". */
  async sign(claims: Record<string, unknown>): Promise<string> {
    const { privateKey } = await this.signingKeys();
    return new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: SIGNING_KEY_ID, typ: 'JWT' }).sign(privateKey);
  }
}

// The `claims` authorize parameter names extra claims per target, e.g. {"id_token":{"email":null}}.
function requestedClaimNames(claimsRequest: string | null, target: 'id_token' | 'userinfo'): Set<string> {
  if (claimsRequest === null) return new Set();
  try {
    const parsed: unknown = JSON.parse(claimsRequest);
    if (typeof parsed !== 'object' || parsed === null) return new Set();
    const forTarget: unknown = (parsed as Record<string, unknown>)[target];
    return typeof forTarget === 'object' && forTarget !== null ? new Set(Object.keys(forTarget)) : new Set();
  } catch {
    return new Set();
  }
}

function optionalUserClaims(user: StandinUser, wanted: (claim: string) => boolean): Record<string, unknown> {
  const claims: Record<string, unknown> = {};
  if (wanted('email')) claims.email = user.email;
  if (wanted('email_verified')) claims.email_verified = true;
  if (wanted('picture')) claims.picture = `https://avatars.example.test/${user.login}.png`;
  if (wanted('updated_at')) claims.updated_at = USER_UPDATED_AT;
  return claims;
}

/** Builds and signs the id_token a code exchange returns when the grant includes the `openid` scope. */
export async function mintIdToken(signer: OidcSigner, issuer: string, code: AuthorizationCodeRecord, user: StandinUser, nowMs: number): Promise<string> {
  const issuedAt = Math.floor(nowMs / 1000);
  const requested = requestedClaimNames(code.claimsRequest, 'id_token');
  return signer.sign({
    iss: issuer,
    sub: user.id,
    aud: code.clientId,
    azp: code.clientId,
    iat: issuedAt,
    exp: issuedAt + ID_TOKEN_LIFETIME_SECONDS,
    ...(code.nonce === null ? {} : { nonce: code.nonce }),
    preferred_username: user.displayName,
    ...optionalUserClaims(user, (claim) => requested.has(claim)),
  });
}

function userinfoClaims(issuer: string, access: AccessTokenRecord, user: StandinUser): Record<string, unknown> {
  const hasEmailScope = access.scopes.includes('user:read:email');
  return {
    aud: access.clientId,
    exp: Math.floor(access.expiresAt / 1000),
    iat: Math.floor(access.issuedAt / 1000),
    iss: issuer,
    sub: user.id,
    preferred_username: user.displayName,
    ...optionalUserClaims(user, (claim) => (claim === 'email' || claim === 'email_verified' ? hasEmailScope : true)),
  };
}

/** GET /oauth2/.well-known/openid-configuration, /oauth2/keys and /oauth2/userinfo. */
export function oidcRoutes(state: StandinState, signer: OidcSigner): Hono<StandinEnv> {
  const routes = new Hono<StandinEnv>();

  routes.get('/.well-known/openid-configuration', (c) => {
    // Endpoint URLs follow the request's origin so the document works at id.twitch.tv (outboundService) and on localhost.
    const base = `${new URL(c.req.url).origin}/oauth2`;
    return jsonResponse({
      issuer: state.issuer,
      authorization_endpoint: `${base}/authorize`,
      token_endpoint: `${base}/token`,
      userinfo_endpoint: `${base}/userinfo`,
      jwks_uri: `${base}/keys`,
      response_types_supported: ['id_token', 'code', 'token', 'code id_token', 'token id_token'],
      subject_types_supported: ['public'],
      id_token_signing_alg_values_supported: ['RS256'],
      scopes_supported: ['openid'],
      token_endpoint_auth_methods_supported: ['client_secret_post'],
      claims_supported: ['aud', 'azp', 'email', 'email_verified', 'exp', 'iat', 'iss', 'picture', 'preferred_username', 'sub', 'updated_at'],
      claims_parameter_supported: true,
    });
  });

  routes.get('/keys', async () => jsonResponse(await signer.jwks()));

  routes.get('/userinfo', (c) => {
    const token = bearerTokenFrom(c.req.header('Authorization'));
    if (token === 'missing') return twitchError(401, 'missing authorization token');
    const access = token === 'malformed' ? undefined : state.findLiveAccessToken(token.value);
    const user = access === undefined ? undefined : state.userForAccessToken(access);
    if (access === undefined || user === undefined) return twitchError(401, 'invalid access token');
    return jsonResponse(userinfoClaims(state.issuer, access, user));
  });

  return routes;
}
