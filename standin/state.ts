import { ApiCallLog, CallLog } from './call-log';
import { FaultQueue } from './faults';
import {
  ACCESS_TOKEN_LENGTH,
  AUTHORIZATION_CODE_LENGTH,
  DEFAULT_CLIENT,
  DEFAULT_CONFIG,
  DEFAULT_USERS,
  REFRESH_TOKEN_LENGTH,
  type AccessTokenRecord,
  type AuthorizationCodeRecord,
  type AuthorizationCodeRequest,
  type GrantRecord,
  type RefreshTokenRecord,
  type RefreshTokenReuse,
  type RegisteredClient,
  type StandinClient,
  type StandinConfig,
  type StandinOptions,
  type StandinUser,
  type StandinUserInput,
  type UserTokenIssue,
} from './model';
import { randomLowercaseAlphanumerics } from './random';
import { RateLimitBucket } from './rate-limit';

/** Which access tokens POST /_standin/expire targets; they are combined with OR. */
export interface ExpireSelector {
  accessToken?: string;
  userId?: string;
  app?: boolean;
}

/**
 * What `npm start` saves between runs, so grants the broker keeps in .wrangler/state stay valid here:
 * clients, users, config, codes, tokens and grants. Faults, the call log, the rate-limit bucket and
 * reuse records are per run.
 */
export interface StandinSnapshot {
  version: 1;
  clients: RegisteredClient[];
  users: StandinUser[];
  config: StandinConfig;
  codes: AuthorizationCodeRecord[];
  accessTokens: AccessTokenRecord[];
  refreshTokens: RefreshTokenRecord[];
  grants: GrantRecord[];
  nextGrantNumber: number;
}

// Twitch logins: 1-25 characters of letters, digits and underscores (not starting with one); ids are digits.
const LOGIN_PATTERN = /^[a-z0-9][a-z0-9_]{0,24}$/;
const USER_ID_PATTERN = /^[1-9][0-9]{0,17}$/;

/** How many tokens a disconnect or revoke killed. */
export interface RevocationCount {
  accessTokens: number;
  refreshTokens: number;
}

function registerClient(client: StandinClient): RegisteredClient {
  return { clientId: client.clientId, clientSecret: client.clientSecret, redirectUris: [...(client.redirectUris ?? [])] };
}

/** Fills in display name and email the way Twitch would show them for a login. */
export function completeUser(user: StandinUserInput): StandinUser {
  return {
    id: user.id,
    login: user.login.toLowerCase(),
    displayName: user.displayName ?? user.login,
    email: user.email ?? `${user.login.toLowerCase()}@example.test`,
  };
}

// Any http(s) URL ending in /callback, so both a test's http://broker.test/callback and a dev server's
// http://localhost:8787/callback work without registering them.
function isDefaultCallbackUri(redirectUri: string): boolean {
  try {
    const url = new URL(redirectUri);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.pathname === '/callback';
  } catch {
    return false;
  }
}

/** The whole in-memory model of one stand-in: clients, users, codes, tokens, faults, call log and config. */
export class StandinState {
  readonly now: () => number;
  readonly issuer: string;
  readonly hangTimeoutMs: number;
  readonly calls = new CallLog();
  /** Requests outside /oauth2 and /_standin (Helix, EventSub), with their raw targets. */
  readonly apiCalls = new ApiCallLog();
  readonly faults = new FaultQueue();
  readonly rateLimit: RateLimitBucket;

  private readonly initialClients: RegisteredClient[];
  private readonly initialUsers: StandinUser[];
  private readonly initialConfig: StandinConfig;

  private clients = new Map<string, RegisteredClient>();
  private usersById = new Map<string, StandinUser>();
  private userIdsByLogin = new Map<string, string>();
  private config: StandinConfig;
  private codes = new Map<string, AuthorizationCodeRecord>();
  private accessTokens = new Map<string, AccessTokenRecord>();
  private refreshTokens = new Map<string, RefreshTokenRecord>();
  private grants = new Map<string, GrantRecord>();
  private refreshTokenReuses: RefreshTokenReuse[] = [];
  private nextGrantNumber = 1;
  // Kept across resets on purpose: a token leaked by an earlier test is still a leak.
  private readonly everIssuedSecrets = new Set<string>();

  constructor(options: StandinOptions = {}) {
    this.now = options.now ?? Date.now;
    this.issuer = options.issuer ?? 'https://id.twitch.tv/oauth2';
    this.hangTimeoutMs = options.hangTimeoutMs ?? 60_000;
    this.rateLimit = new RateLimitBucket(this.now);
    this.initialClients = (options.clients ?? [DEFAULT_CLIENT]).map(registerClient);
    this.initialUsers = (options.users ?? DEFAULT_USERS).map(completeUser);
    this.initialConfig = { ...DEFAULT_CONFIG, ...options.config };
    this.config = { ...this.initialConfig };
    this.restoreRegistrations();
  }

  /** Forgets codes, tokens, faults, calls and reuse records; restores clients, users and config to the start values. */
  reset(): void {
    this.codes.clear();
    this.accessTokens.clear();
    this.refreshTokens.clear();
    this.grants.clear();
    this.refreshTokenReuses = [];
    this.faults.clear();
    this.calls.clear();
    this.apiCalls.clear();
    this.rateLimit.reset();
    this.config = { ...this.initialConfig };
    this.restoreRegistrations();
  }

  private restoreRegistrations(): void {
    this.clients = new Map(this.initialClients.map((client) => [client.clientId, { ...client, redirectUris: [...client.redirectUris] }]));
    this.usersById = new Map();
    this.userIdsByLogin = new Map();
    this.addUsers(this.initialUsers);
    for (const client of this.clients.values()) this.everIssuedSecrets.add(client.clientSecret);
  }

  /** Everything a restarted stand-in needs to keep honouring the tokens it issued (see StandinSnapshot). */
  snapshot(): StandinSnapshot {
    return structuredClone({
      version: 1,
      clients: [...this.clients.values()],
      users: [...this.usersById.values()],
      config: this.config,
      codes: [...this.codes.values()],
      accessTokens: [...this.accessTokens.values()],
      refreshTokens: [...this.refreshTokens.values()],
      grants: [...this.grants.values()],
      nextGrantNumber: this.nextGrantNumber,
    });
  }

  /** Replaces clients, users, config, codes, tokens and grants with a snapshot's. */
  restore(snapshot: StandinSnapshot): void {
    if (snapshot.version !== 1) throw new Error(`unsupported stand-in snapshot version ${String(snapshot.version)}`);
    const copy = structuredClone(snapshot);
    this.clients = new Map(copy.clients.map((client) => [client.clientId, client]));
    this.usersById = new Map();
    this.userIdsByLogin = new Map();
    this.addUsers(copy.users);
    this.config = { ...this.initialConfig, ...copy.config };
    this.codes = new Map(copy.codes.map((code) => [code.code, code]));
    this.accessTokens = new Map(copy.accessTokens.map((token) => [token.token, token]));
    this.refreshTokens = new Map(copy.refreshTokens.map((token) => [token.token, token]));
    this.grants = new Map(copy.grants.map((grant) => [grant.id, grant]));
    this.nextGrantNumber = copy.nextGrantNumber;
    for (const client of copy.clients) this.everIssuedSecrets.add(client.clientSecret);
    for (const secret of [...this.codes.keys(), ...this.accessTokens.keys(), ...this.refreshTokens.keys()]) this.everIssuedSecrets.add(secret);
  }

  // ---- configuration ----

  /** Returns the current run-time config. */
  currentConfig(): StandinConfig {
    return { ...this.config };
  }

  /** Applies a partial config change. */
  updateConfig(change: Partial<StandinConfig>): StandinConfig {
    this.config = { ...this.config, ...change };
    return this.currentConfig();
  }

  // ---- clients ----

  /** Looks a client up by id. */
  findClient(clientId: string): RegisteredClient | undefined {
    return this.clients.get(clientId);
  }

  /** Lists registered clients, secrets included (this is a test double). */
  listClients(): RegisteredClient[] {
    return [...this.clients.values()].map((client) => ({ ...client, redirectUris: [...client.redirectUris] }));
  }

  /** Registers (or replaces) clients. */
  addClients(clients: StandinClient[]): void {
    for (const client of clients) {
      this.clients.set(client.clientId, registerClient(client));
      this.everIssuedSecrets.add(client.clientSecret);
    }
  }

  /** Replaces the registered redirect URIs of one client, or of every client when no id is given. */
  setRedirectUris(redirectUris: string[], clientId?: string): void {
    for (const client of this.clients.values()) {
      if (clientId === undefined || client.clientId === clientId) client.redirectUris = [...redirectUris];
    }
  }

  /** Whether `redirectUri` is registered for the client (exact match), or fits the /callback default when none are. */
  isRedirectUriRegistered(client: RegisteredClient, redirectUri: string): boolean {
    if (client.redirectUris.length === 0) return isDefaultCallbackUri(redirectUri);
    return client.redirectUris.includes(redirectUri);
  }

  // ---- users ----

  /** Finds a user by numeric id or by login. */
  findUser(idOrLogin: string): StandinUser | undefined {
    const byId = this.usersById.get(idOrLogin);
    if (byId !== undefined) return byId;
    const userId = this.userIdsByLogin.get(idOrLogin.toLowerCase());
    return userId === undefined ? undefined : this.usersById.get(userId);
  }

  /** Lists users in the order they were added. */
  listUsers(): StandinUser[] {
    return [...this.usersById.values()];
  }

  /** Adds or replaces users (matched by id). */
  addUsers(users: StandinUserInput[]): StandinUser[] {
    const added = users.map(completeUser);
    for (const user of added) {
      const previous = this.usersById.get(user.id);
      if (previous !== undefined) this.userIdsByLogin.delete(previous.login);
      this.usersById.set(user.id, user);
      this.userIdsByLogin.set(user.login, user.id);
    }
    return added;
  }

  /**
   * Finds a user by id or login, or creates one as the consent page's "another user" field does: digits make
   * `user_<id>`, a login gets the next free id. Returns undefined when the text is neither.
   */
  findOrCreateUser(idOrLogin: string): StandinUser | undefined {
    const existing = this.findUser(idOrLogin);
    if (existing !== undefined) return existing;
    if (USER_ID_PATTERN.test(idOrLogin)) return this.addUsers([{ id: idOrLogin, login: `user_${idOrLogin}` }])[0];
    const login = idOrLogin.toLowerCase();
    if (!LOGIN_PATTERN.test(login)) return undefined;
    return this.addUsers([{ id: String(this.highestNumericUserId() + 1), login, displayName: idOrLogin }])[0];
  }

  /** Generates `count` users named `user_<id>` with consecutive ids, starting after the highest numeric id by default. */
  addGeneratedUsers(count: number, startId?: number): { firstId: string; lastId: string } {
    const firstId = startId ?? this.highestNumericUserId() + 1;
    const generated: StandinUserInput[] = [];
    for (let offset = 0; offset < count; offset += 1) {
      const id = String(firstId + offset);
      generated.push({ id, login: `user_${id}`, displayName: `User_${id}`, email: `user_${id}@example.test` });
    }
    this.addUsers(generated);
    return { firstId: String(firstId), lastId: String(firstId + count - 1) };
  }

  private highestNumericUserId(): number {
    let highest = 0;
    for (const id of this.usersById.keys()) {
      const numeric = Number(id);
      if (Number.isSafeInteger(numeric) && numeric > highest) highest = numeric;
    }
    return highest;
  }

  // ---- authorization codes ----

  /** Mints a single-use authorization code that lives `authorizationCodeTtlSeconds`. */
  issueAuthorizationCode(request: AuthorizationCodeRequest): AuthorizationCodeRecord {
    const record: AuthorizationCodeRecord = {
      ...request,
      code: this.newSecret(AUTHORIZATION_CODE_LENGTH),
      expiresAt: this.now() + this.config.authorizationCodeTtlSeconds * 1000,
      redeemed: false,
    };
    this.codes.set(record.code, record);
    return record;
  }

  /**
   * Spends a code presented by `clientId`. Returns it only if it was unspent, unexpired and issued to that client.
   * Any presentation by the right client spends it, even one that then fails the redirect_uri check,
   * so a code can never be tried twice.
   */
  redeemAuthorizationCode(code: string, clientId: string): AuthorizationCodeRecord | undefined {
    const record = this.codes.get(code);
    if (record === undefined || record.clientId !== clientId) return undefined;
    const wasUsable = !record.redeemed && this.now() < record.expiresAt;
    record.redeemed = true;
    return wasUsable ? { ...record } : undefined;
  }

  // ---- user grants and refresh ----

  /** Starts a new user grant (as a code exchange or a seeded login does) and issues its first token pair. */
  issueUserGrant(clientId: string, userId: string, scopes: string[]): UserTokenIssue {
    const grantId = `grant-${this.nextGrantNumber++}`;
    const accessToken = this.newAccessToken(clientId, userId, scopes, this.config.userAccessTokenTtlSeconds, grantId);
    const refreshToken = this.newRefreshToken(grantId);
    this.grants.set(grantId, { id: grantId, clientId, userId, scopes: [...scopes], liveRefreshToken: refreshToken, latestAccessToken: accessToken.token });
    return { accessToken: { ...accessToken }, refreshToken };
  }

  /**
   * Rotates a refresh token: the presented one is spent at once and a new pair is issued. A spent token
   * presented again is recorded as reuse and refused, exactly like a forged one.
   */
  refreshUserGrant(clientId: string, presentedRefreshToken: string): UserTokenIssue | undefined {
    const record = this.refreshTokens.get(presentedRefreshToken);
    const grant = record === undefined ? undefined : this.grants.get(record.grantId);
    if (record === undefined || grant === undefined || grant.clientId !== clientId) return undefined;
    if (record.status === 'spent') {
      this.refreshTokenReuses.push({
        refreshToken: record.token,
        clientId: grant.clientId,
        userId: grant.userId,
        spentAt: record.spentAt ?? 0,
        reusedAt: this.now(),
      });
      return undefined;
    }
    if (record.status !== 'live') return undefined;

    record.status = 'spent';
    record.spentAt = this.now();
    if (this.config.refreshRevokesPreviousAccessToken) this.revokeAccessToken(grant.latestAccessToken);
    const accessToken = this.newAccessToken(grant.clientId, grant.userId, grant.scopes, this.config.userAccessTokenTtlSeconds, grant.id);
    const refreshToken = this.newRefreshToken(grant.id);
    grant.liveRefreshToken = refreshToken;
    grant.latestAccessToken = accessToken.token;
    return { accessToken: { ...accessToken }, refreshToken };
  }

  /** Lists refresh tokens presented after rotation had already spent them. */
  listRefreshTokenReuses(): RefreshTokenReuse[] {
    return this.refreshTokenReuses.map((reuse) => ({ ...reuse }));
  }

  // ---- app tokens ----

  /** Mints an app access token; earlier app tokens stay valid (whether Twitch revokes them is unconfirmed). */
  issueAppAccessToken(clientId: string): AccessTokenRecord {
    return { ...this.newAccessToken(clientId, null, [], this.config.appAccessTokenTtlSeconds, null) };
  }

  // ---- lookups, revocation, expiry ----

  /** Returns the access token if it exists, is not revoked and has not expired. */
  findLiveAccessToken(token: string): AccessTokenRecord | undefined {
    const record = this.accessTokens.get(token);
    if (record === undefined || record.revoked || this.now() >= record.expiresAt) return undefined;
    return { ...record };
  }

  /**
   * Handles /oauth2/revoke: an access token dies alone; a refresh token dies with the grant's current access token.
   * Returns false when the token is unknown, already dead or belongs to another client.
   */
  revokeForClient(clientId: string, token: string): boolean {
    const access = this.findLiveAccessToken(token);
    if (access !== undefined) {
      if (access.clientId !== clientId) return false;
      this.revokeAccessToken(token);
      return true;
    }
    const refresh = this.refreshTokens.get(token);
    const grant = refresh === undefined ? undefined : this.grants.get(refresh.grantId);
    if (refresh === undefined || grant === undefined || refresh.status !== 'live' || grant.clientId !== clientId) return false;
    refresh.status = 'revoked';
    grant.liveRefreshToken = null;
    this.revokeAccessToken(grant.latestAccessToken);
    return true;
  }

  /** The user clicked Disconnect: every access and refresh token of that user (for one client, or all) dies. */
  disconnectUser(userId: string, clientId?: string): RevocationCount {
    const count: RevocationCount = { accessTokens: 0, refreshTokens: 0 };
    for (const access of this.accessTokens.values()) {
      if (access.userId !== userId || (clientId !== undefined && access.clientId !== clientId)) continue;
      if (!access.revoked && this.now() < access.expiresAt) count.accessTokens += 1;
      access.revoked = true;
    }
    for (const grant of this.grants.values()) {
      if (grant.userId !== userId || (clientId !== undefined && grant.clientId !== clientId)) continue;
      const refresh = grant.liveRefreshToken === null ? undefined : this.refreshTokens.get(grant.liveRefreshToken);
      if (refresh !== undefined) {
        refresh.status = 'revoked';
        count.refreshTokens += 1;
      }
      grant.liveRefreshToken = null;
    }
    return count;
  }

  /** Makes the selected live access tokens expire now; their refresh tokens keep working. Returns how many. */
  expireAccessTokens(selector: ExpireSelector): number {
    let expired = 0;
    const now = this.now();
    for (const access of this.accessTokens.values()) {
      const selected =
        access.token === selector.accessToken ||
        (selector.userId !== undefined && access.userId === selector.userId) ||
        (selector.app === true && access.userId === null);
      if (!selected || access.revoked || now >= access.expiresAt) continue;
      access.expiresAt = now;
      expired += 1;
    }
    return expired;
  }

  /** Every access token, refresh token, code and client secret ever issued or known. */
  knownSecrets(): string[] {
    return [...this.everIssuedSecrets];
  }

  /** Finds a user for an access token's owner, for userinfo and id_tokens. */
  userForAccessToken(access: AccessTokenRecord): StandinUser | undefined {
    return access.userId === null ? undefined : this.usersById.get(access.userId);
  }

  private revokeAccessToken(token: string): void {
    const record = this.accessTokens.get(token);
    if (record !== undefined) record.revoked = true;
  }

  private newAccessToken(clientId: string, userId: string | null, scopes: string[], ttlSeconds: number, grantId: string | null): AccessTokenRecord {
    const issuedAt = this.now();
    const record: AccessTokenRecord = {
      token: this.newSecret(ACCESS_TOKEN_LENGTH),
      clientId,
      userId,
      scopes: [...scopes],
      issuedAt,
      expiresAt: issuedAt + ttlSeconds * 1000,
      revoked: false,
      grantId,
    };
    this.accessTokens.set(record.token, record);
    return record;
  }

  private newRefreshToken(grantId: string): string {
    const token = this.newSecret(REFRESH_TOKEN_LENGTH);
    this.refreshTokens.set(token, { token, grantId, status: 'live', spentAt: null });
    return token;
  }

  private newSecret(length: number): string {
    const secret = randomLowercaseAlphanumerics(length);
    this.everIssuedSecrets.add(secret);
    return secret;
  }
}
