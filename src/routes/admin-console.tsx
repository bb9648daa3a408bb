import { Hono, type Context } from 'hono';
import type { JSX } from 'hono/jsx/jsx-runtime';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { brokerStatus } from '../admin/broker-status';
import { complianceAttachment, complianceCsv, complianceJson, complianceReport } from '../admin/compliance';
import { dropUser, forceRefreshUser, getAdminUser, listAdminUsers } from '../admin/users';
import { apiCallerFor } from '../auth/api-key';
import { getConfig } from '../config';
import { checkCsrfToken, consoleHeaders, requireAdminSession, requireSameOrigin, SignInRequired, verifiedAdminSession } from '../console/console-guard';
import { MessagePage, SignInPage, type Operator } from '../console/layout';
import { OverviewPage } from '../console/overview-page';
import { metricsForConsole } from '../metrics/metrics-query';
import { CONSOLE_FAVICON, CONSOLE_STYLESHEET } from '../console/stylesheet';
import { UserPage, ACTION_RESULTS, type ActionResult } from '../console/user-page';
import { UsersPage } from '../console/users-page';
import type { AppEnv } from '../env';
import { BrokerError } from '../errors';
import { limitLoginRate } from '../http/login-rate-limiter';
import { logEvent } from '../log';
import { clearAdminSessionCookie, readAdminSessionCookie, setAdminSessionCookie } from '../session/admin-session-cookie';
import { csrfTokenFor, signAdminSession } from '../session/admin-session-token';
import { PAGE_POSITION, parseSearch } from '../sweep/directory-listing';
import { userVault } from '../vault/stubs';

/**
 * The admin console: server-rendered pages and plain HTML forms, no script at all. Signing in
 * exchanges an API key of scope `admin` for a 30-minute HttpOnly cookie; every form that changes
 * something is a POST from the console's own origin carrying the session's CSRF token, answered
 * with a redirect (so a reload never repeats it). The pages call the same operations as the JSON
 * admin API (src/admin/). They are not API, so /openapi.json leaves them out: docs/admin-console.md
 * lists them (test/openapi.test.ts checks it names every route here).
 */

type ConsoleContext = Context<AppEnv>;

const USER_ID = /^[0-9]{1,20}$/;
/** The heading of an error page, by status. */
const TITLES: Partial<Record<number, string>> = { 403: 'Refused', 404: 'Not found', 429: 'Too many attempts' };

/** Renders a page with its doctype. */
async function render(c: ConsoleContext, status: ContentfulStatusCode, page: JSX.Element) {
  return c.html(`<!doctype html>${await page}`, status);
}

/** The signed-in operator, for the page's header and forms. */
async function operatorOf(c: ConsoleContext): Promise<Operator> {
  const session = c.get('adminSession')!;
  return { keyName: session.keyName, csrf: await csrfTokenFor(getConfig(c.env).sessionSecret, session.sessionId), expiresAt: session.expiresAt };
}

/** A console form's fields; a body that is no form is the sender's mistake (400), not ours. */
async function formOf(c: ConsoleContext): Promise<Record<string, string | File>> {
  try {
    return await c.req.parseBody();
  } catch {
    throw new BrokerError(400, 'invalid_request', 'the body is not a form');
  }
}

/** Checks a console form's CSRF token and returns its fields. */
async function checkedForm(c: ConsoleContext): Promise<Record<string, string | File>> {
  const form = await formOf(c);
  await checkCsrfToken(getConfig(c.env).sessionSecret, c.get('adminSession')!.sessionId, form.csrf);
  return form;
}

/** Where to go after signing in: a console page only (never another site), else the overview. */
function consolePath(value: unknown): string | undefined {
  if (typeof value !== 'string' || value.length > 300) return undefined;
  return /^\/admin(?:\/console\/users(?:\/[0-9]{1,20})?(?:\?[A-Za-z0-9_=&%:.~-]*)?)?$/.test(value) ? value : undefined;
}

/** The user id in the path, or a 404 page: nothing else is a Twitch user id. */
function userIdIn(c: ConsoleContext): string {
  const userId = c.req.param('userId') ?? '';
  if (!USER_ID.test(userId)) throw new BrokerError(404, 'not_found', 'That is not a Twitch user id.');
  return userId;
}

export const adminConsoleRoutes = new Hono<AppEnv>()
  .use('/admin/console/*', consoleHeaders)
  .onError(async (error, c) => {
    if (error instanceof SignInRequired) {
      const returnTo = c.req.method === 'GET' ? consolePath(c.req.path + new URL(c.req.url).search) : undefined;
      return render(c, 401, <SignInPage message={error.reason} returnTo={returnTo} />);
    }
    if (error instanceof BrokerError && error.status < 500) {
      const operator = c.get('adminSession') ? await operatorOf(c) : undefined;
      const response = await render(
        c,
        error.status as ContentfulStatusCode,
        <MessagePage title={TITLES[error.status] ?? 'Not done'} message={error.description} operator={operator} />,
      );
      for (const [name, value] of Object.entries(error.headers)) response.headers.set(name, value);
      return response;
    }
    throw error;
  })

  /** The console: the overview when signed in, the sign-in form otherwise. */
  .get('/admin', consoleHeaders, async (c) => {
    // Anyone may see the sign-in form; a cookie that no longer holds gets it with a 401 and why.
    if (!readAdminSessionCookie(c)) return render(c, 200, <SignInPage />);
    c.set('adminSession', await verifiedAdminSession(c));
    const now = Date.now();
    const [status, compliance, metrics] = await Promise.all([brokerStatus(c.env), complianceReport(c.env, 1), metricsForConsole(c.env, now)]);
    return render(c, 200, <OverviewPage operator={await operatorOf(c)} status={status} compliance={compliance} metrics={metrics} now={now} />);
  })

  /**
   * Exchanges an API key of scope `admin` for the console's session cookie. Rate limited like the
   * logins (per address), so the form is no faster a way to guess keys than the API.
   */
  .post('/admin/console/sign-in', limitLoginRate, requireSameOrigin, async (c) => {
    const form = await formOf(c);
    const returnTo = consolePath(form.return_to);
    const config = getConfig(c.env);
    const caller = await apiCallerFor(config, typeof form.api_key === 'string' ? form.api_key : undefined);
    // One answer for an unknown key and a key without the scope: the form tells a guesser nothing more.
    if (!caller?.scopes.has('admin')) {
      logEvent('admin_console.sign_in_refused', {});
      return render(c, 401, <SignInPage message="That is not an API key of scope admin." returnTo={returnTo} />);
    }
    const session = await signAdminSession(config.sessionSecret, caller);
    setAdminSessionCookie(c, session.token);
    logEvent('admin_console.signed_in', { apiKey: caller.name });
    return c.redirect(returnTo ?? '/admin', 303);
  })

  /** Ends the console session (the cookie is cleared; the JWT expires within 30 minutes anyway). */
  .post('/admin/console/sign-out', requireSameOrigin, requireAdminSession, async (c) => {
    await checkedForm(c);
    clearAdminSessionCookie(c);
    logEvent('admin_console.signed_out', { apiKey: c.get('adminSession')!.keyName });
    return c.redirect('/admin', 303);
  })

  /** The console's stylesheet: the CSP allows no other styles. */
  .get('/admin/console/style.css', (c) =>
    c.body(CONSOLE_STYLESHEET, 200, { 'Content-Type': 'text/css; charset=utf-8', 'Cache-Control': 'public, max-age=300' }),
  )

  /** The console's icon (an SVG square), so browsers do not ask for /favicon.ico. */
  .get('/admin/console/favicon.svg', (c) => c.body(CONSOLE_FAVICON, 200, { 'Content-Type': 'image/svg+xml', 'Cache-Control': 'public, max-age=300' }))

  /** Users: a search by login prefix or id, 25 a page, paged by position. */
  .get('/admin/console/users', requireAdminSession, async (c) => {
    const text = c.req.query('q') ?? '';
    const search = parseSearch(text);
    const after = c.req.query('after');
    // A position that does not fit this listing (edited by hand, or from another search) starts it over.
    const position = after && PAGE_POSITION.test(after) && after.includes(':') === (search !== null && search !== 'invalid') ? after : null;
    const page = search === 'invalid' ? { users: [], next: null } : await listAdminUsers(c.env, { search, after: position, limit: 25 });
    return render(
      c,
      search === 'invalid' ? 400 : 200,
      <UsersPage operator={await operatorOf(c)} query={text.trim()} page={page} now={Date.now()} invalidQuery={search === 'invalid'} />,
    );
  })

  /** One user: what the broker knows, the audit trail, forced refresh and drop. */
  .get('/admin/console/users/:userId', requireAdminSession, async (c) => {
    const userId = userIdIn(c);
    const [user, events] = await Promise.all([getAdminUser(c.env, userId), userVault(c.env, userId).events()]);
    if (!user) throw new BrokerError(404, 'not_found', `This broker has no record of user ${userId}.`);
    const done = c.req.query('done');
    const result = done !== undefined && Object.hasOwn(ACTION_RESULTS, done) ? (done as ActionResult) : undefined;
    return render(c, 200, <UserPage operator={await operatorOf(c)} user={user} events={events ?? []} result={result} now={Date.now()} />);
  })

  /** Forced refresh from the console (see POST /admin/users/{userId}/refresh). */
  .post('/admin/console/users/:userId/refresh', requireSameOrigin, requireAdminSession, async (c) => {
    const userId = userIdIn(c);
    await checkedForm(c);
    const result = await forceRefreshUser(c.env, userId, c.get('adminSession')!.keyName);
    if (result.outcome === 'not_found') throw new BrokerError(404, 'not_found', `This broker has no record of user ${userId}.`);
    const done: ActionResult =
      result.outcome === 'refreshed'
        ? 'refreshed'
        : result.outcome === 'revoked'
          ? 'refresh_revoked'
          : result.outcome === 'no_grant'
            ? 'no_grant'
            : 'refresh_unavailable';
    return c.redirect(`/admin/console/users/${userId}?done=${done}`, 303);
  })

  /** Drop from the console: the same as DELETE /token/users/{userId}, after a ticked confirmation. */
  .post('/admin/console/users/:userId/drop', requireSameOrigin, requireAdminSession, async (c) => {
    const userId = userIdIn(c);
    const form = await checkedForm(c);
    if (form.confirm !== 'drop') throw new BrokerError(400, 'invalid_request', 'Tick the box to confirm the drop: nothing was changed.');
    if ((await dropUser(c.env, userId)) === 'not_found')
      throw new BrokerError(404, 'not_found', `This broker has no record of user ${userId}, or the user is already dropped.`);
    logEvent('admin_console.user_dropped', { userId, apiKey: c.get('adminSession')!.keyName });
    return c.redirect(`/admin/console/users/${userId}?done=dropped`, 303);
  })

  /** The compliance export for the signed-in console (the same as GET /admin/compliance.csv). */
  .get('/admin/console/compliance.csv', requireAdminSession, async (c) => {
    const report = await complianceReport(c.env, hoursIn(c));
    return c.body(complianceCsv(report), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': complianceAttachment(report, 'csv'),
    });
  })

  /** The compliance export for the signed-in console (the same as GET /admin/compliance.json). */
  .get('/admin/console/compliance.json', requireAdminSession, async (c) => {
    const report = await complianceReport(c.env, hoursIn(c));
    return c.json(complianceJson(report), 200, {
      'Content-Disposition': complianceAttachment(report, 'json'),
    });
  });

/** `?hours=` of an export link: 1 to 24, else 24. */
function hoursIn(c: ConsoleContext): number {
  const hours = Number(c.req.query('hours'));
  return Number.isInteger(hours) && hours >= 1 && hours <= 24 ? hours : 24;
}
