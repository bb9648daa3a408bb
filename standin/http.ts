/**
 * What a host may hand the app as Hono's `env`. The Node server passes @hono/node-server's `{ incoming, outgoing }`,
 * which fits this shape; the fetch-function host passes `{}`.
 */
export interface StandinHostBindings {
  incoming?: { socket: { destroy(): void } | null; url?: string };
}

/** The Hono environment shared by every stand-in router. */
export interface StandinEnv {
  Bindings: StandinHostBindings;
  Variables: { oauthParams: URLSearchParams };
}

/** Answers with Twitch's error shape, `{"status":N,"message":"..."}`. */
export function twitchError(status: number, message: string): Response {
  return jsonResponse({ status, message }, status);
}

/** Answers with a JSON body. */
export function jsonResponse(body: unknown, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
}

/** Raised when a request body cannot be parsed; answered as a Twitch-shaped 400. */
export class MalformedBodyError extends Error {}

/**
 * Collects OAuth parameters from the query string and, for POSTs, from a urlencoded or multipart body.
 * Twitch accepts all three (its CLI sends query strings and multipart), so the body wins only on conflicts.
 */
export async function readOAuthParams(request: Request): Promise<URLSearchParams> {
  const params = new URL(request.url).searchParams;
  if (request.method === 'GET' || request.method === 'HEAD') return params;
  const contentType = (request.headers.get('Content-Type') ?? '').toLowerCase();
  try {
    if (contentType.startsWith('application/x-www-form-urlencoded')) {
      for (const [name, value] of new URLSearchParams(await request.text())) params.set(name, value);
    } else if (contentType.startsWith('multipart/form-data')) {
      (await request.formData()).forEach((value, name) => {
        if (typeof value === 'string') params.set(name, value);
      });
    }
  } catch {
    throw new MalformedBodyError('malformed request body');
  }
  return params;
}

/** Returns a parameter's value, treating an empty string as absent the way Twitch's "missing" errors do. */
export function paramValue(params: URLSearchParams, name: string): string | undefined {
  const value = params.get(name);
  return value === null || value === '' ? undefined : value;
}

/** Splits a space-separated scope string into unique scopes, keeping their order. */
export function parseScopes(scopeParam: string | undefined): string[] {
  if (scopeParam === undefined) return [];
  return [...new Set(scopeParam.split(/\s+/).filter((scope) => scope !== ''))];
}

/** The token in an `Authorization` header, or why there is none. */
export type PresentedToken = 'missing' | 'malformed' | { value: string };

/** Reads `Authorization: OAuth <token>` or `Bearer <token>` (Twitch accepts both prefixes). */
export function bearerTokenFrom(authorizationHeader: string | undefined): PresentedToken {
  if (authorizationHeader === undefined || authorizationHeader.trim() === '') return 'missing';
  const match = /^(?:OAuth|Bearer)\s+(\S+)\s*$/i.exec(authorizationHeader.trim());
  return match?.[1] === undefined ? 'malformed' : { value: match[1] };
}

/** Escapes text for safe use in HTML content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}
