import type { Child } from 'hono/jsx';
import { utc } from './format';

/** Where the console's stylesheet is served (the CSP allows styles from the broker only). */
export const STYLESHEET_PATH = '/admin/console/style.css';
/** The console's icon: without one the browser asks for /favicon.ico, and logs the 404. */
export const FAVICON_PATH = '/admin/console/favicon.svg';

/** Who is signed in, and the CSRF token their forms carry. */
export interface Operator {
  keyName: string;
  csrf: string;
  expiresAt: number;
}

/** Every console page: a header with navigation and sign-out when signed in. No script, no inline style. */
export function Layout(props: { title: string; operator?: Operator; children?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width,initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{props.title} · twitch-token-broker admin</title>
        <link rel="stylesheet" href={STYLESHEET_PATH} />
        <link rel="icon" href={FAVICON_PATH} type="image/svg+xml" />
      </head>
      <body>
        <header>
          <a class="brand" href="/admin">
            twitch-token-broker admin
          </a>
          {props.operator && (
            <nav>
              <a href="/admin">Overview</a>
              <a href="/admin/console/users">Users</a>
              <span class="who">
                API key “{props.operator.keyName}”, until {utc(props.operator.expiresAt).slice(11, 16)} UTC
              </span>
              <form method="post" action="/admin/console/sign-out" class="inline">
                <input type="hidden" name="csrf" value={props.operator.csrf} />
                <button type="submit" class="secondary">
                  Sign out
                </button>
              </form>
            </nav>
          )}
        </header>
        <main>{props.children}</main>
      </body>
    </html>
  );
}

/** A hidden CSRF field for a state-changing form. */
export function CsrfField(props: { operator: Operator }) {
  return <input type="hidden" name="csrf" value={props.operator.csrf} />;
}

/** A page that only says something: an error, a refusal. */
export function MessagePage(props: { title: string; message: string; operator?: Operator; back?: string }) {
  return (
    <Layout title={props.title} operator={props.operator}>
      <h1>{props.title}</h1>
      <p class="notice error">{props.message}</p>
      <p>
        <a href={props.back ?? '/admin'}>Back</a>
      </p>
    </Layout>
  );
}

/** The sign-in form: the API key goes in a password field and is posted once, never kept by the page. */
export function SignInPage(props: { message?: string; returnTo?: string }) {
  return (
    <Layout title="Sign in">
      <h1>Sign in</h1>
      {props.message && <p class="notice">{props.message}</p>}
      <form method="post" action="/admin/console/sign-in" class="sign-in">
        <label for="api_key">
          API key with scope <code>admin</code>
        </label>
        <input id="api_key" name="api_key" type="password" autocomplete="off" required maxlength={512} />
        {props.returnTo && <input type="hidden" name="return_to" value={props.returnTo} />}
        <button type="submit">Sign in</button>
      </form>
      <p class="hint">
        The key is exchanged for a session of 30 minutes in an HttpOnly cookie. Locally, <code>npm start</code> wrote one to
        <code>.dev.api-key</code>.
      </p>
    </Layout>
  );
}
