import { escapeHtml } from './http';
import type { StandinUser } from './model';

/** What the consent page needs to show and to post back. */
export interface ConsentPageContent {
  clientId: string;
  scopes: string[];
  users: StandinUser[];
  /** The original authorize parameters, re-sent as hidden inputs so the POST can re-check them. */
  authorizeParams: [string, string][];
  /** Why the last submission was refused, shown above the forms. */
  problem?: string;
}

// A few buttons are handy; thousands (after a bulk seed) would bury the page, so the rest go through the text field.
const MAX_USER_BUTTONS = 20;

const PAGE_STYLE = `
  body { font-family: system-ui, sans-serif; max-width: 34rem; margin: 2rem auto; padding: 0 1rem; color: #1f1f23; }
  .problem { background: #fde2e1; border: 1px solid #d9534f; padding: .6rem .8rem; border-radius: 6px; }
  .banner { background: #fff3cd; border: 1px solid #e0c56e; padding: .6rem .8rem; border-radius: 6px; font-weight: 600; }
  h1 { font-size: 1.3rem; } code { background: #f0f0f4; padding: 0 .25rem; border-radius: 3px; }
  ul.scopes li { font-family: ui-monospace, monospace; }
  form { margin: 1rem 0; } button { display: block; width: 100%; margin: .35rem 0; padding: .55rem; font-size: 1rem;
  border-radius: 6px; border: 1px solid #9147ff; background: #9147ff; color: white; cursor: pointer; }
  button.cancel { background: white; color: #1f1f23; border-color: #aaa; }
  input[type=text] { width: 100%; padding: .45rem; box-sizing: border-box; font-size: 1rem; }
`;

function hiddenInputs(params: [string, string][]): string {
  return params.map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('\n      ');
}

/** Renders the consent page: one "Authorize as <login>" button per test user and a Cancel button. */
export function renderConsentPage(content: ConsentPageContent): string {
  const hidden = hiddenInputs(content.authorizeParams);
  const scopeItems = content.scopes.length === 0 ? '<li><em>no scopes</em></li>' : content.scopes.map((scope) => `<li>${escapeHtml(scope)}</li>`).join('');
  const userButtons = content.users
    .slice(0, MAX_USER_BUTTONS)
    .map((user) => `<button type="submit" name="user_id" value="${escapeHtml(user.id)}">Authorize as ${escapeHtml(user.login)}</button>`)
    .join('\n      ');
  return `<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <title>Local Twitch stand-in: authorize</title>
  <style>${PAGE_STYLE}</style>
</head>
<body>
  <p class="banner">LOCAL TWITCH STAND-IN: this is not Twitch. No real account is involved.</p>
  <h1>Application <code>${escapeHtml(content.clientId)}</code> wants to access your account</h1>
  ${content.problem === undefined ? '' : `<p class="problem" role="alert">${escapeHtml(content.problem)}</p>`}
  <p>It asks for these scopes:</p>
  <ul class="scopes">${scopeItems}</ul>
  <form method="post" action="/oauth2/authorize">
      ${hidden}
      <input type="hidden" name="decision" value="allow">
      ${userButtons}
  </form>
  <form method="post" action="/oauth2/authorize">
      ${hidden}
      <input type="hidden" name="decision" value="allow">
      <label>Or authorize as another user (id or login; a new one is created):
        <input type="text" name="user_id" required></label>
      <button type="submit">Authorize</button>
  </form>
  <form method="post" action="/oauth2/authorize">
      ${hidden}
      <input type="hidden" name="decision" value="deny">
      <button type="submit" class="cancel">Cancel</button>
  </form>
</body>
</html>`;
}
