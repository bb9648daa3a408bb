/** The console's only styles, served from `/admin/console/style.css`: the CSP forbids inline ones. */
export const CONSOLE_STYLESHEET = `
*{box-sizing:border-box}
body{font:15px/1.5 system-ui,sans-serif;margin:0;color:#1f1f23;background:#fafafa}
header{display:flex;flex-wrap:wrap;align-items:center;gap:1rem;padding:.6rem 1.5rem;background:#1f1f23;color:#fff}
header a{color:#fff;text-decoration:none}
header .brand{font-weight:600;margin-right:auto}
nav{display:flex;align-items:center;gap:1rem}
nav .who{color:#bfbfc6}
main{max-width:72rem;margin:1.5rem auto;padding:0 1.5rem}
h1 .id{color:#6b6b76;font-weight:400;font-size:.7em}
section{margin:2rem 0}
.panels{display:grid;grid-template-columns:repeat(auto-fit,minmax(18rem,1fr));gap:1rem}
.panel{background:#fff;border:1px solid #e3e3e8;border-radius:8px;padding:0 1rem 1rem}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.25rem 1rem;margin:0}
dt{color:#6b6b76}
dd{margin:0}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:.35rem .6rem;border-bottom:1px solid #e3e3e8;vertical-align:top}
th{font-weight:600;color:#53535f}
td.scopes,dd.scopes{font-family:ui-monospace,monospace;font-size:.85em}
.ok{color:#0a7d32}
.bad{color:#b3261e}
.none{color:#9b9ba5}
.share{font-size:2rem;font-weight:600;margin:.2rem 0}
.share.pending{font-size:1.1rem}
.notice{padding:.6rem 1rem;border-radius:6px;background:#eef0ff}
.notice.error{background:#fdecea;color:#8c1d18}
.notice.ok{background:#e7f6ec;color:#0a5c26}
form.search,form.sign-in{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem}
form.sign-in{flex-direction:column;align-items:stretch;max-width:28rem}
form.inline{display:inline}
input[type=search],input[type=password]{font:inherit;padding:.4rem .6rem;border:1px solid #c8c8d0;border-radius:6px;min-width:16rem}
button{font:inherit;background:#9146ff;color:#fff;border:0;border-radius:6px;padding:.4rem 1rem;cursor:pointer}
button.secondary{background:#53535f}
button.danger{background:#b3261e}
.actions form{margin:.8rem 0;display:flex;flex-wrap:wrap;align-items:center;gap:.75rem}
.hint,.abs{color:#6b6b76;font-size:.9em}
svg.chart{display:block;max-width:100%;height:auto;margin:0 0 1rem}
code{font-family:ui-monospace,monospace;background:#f0f0f4;padding:0 .25rem;border-radius:4px}
`;

/** A purple square, the console's icon. */
export const CONSOLE_FAVICON = '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 16 16"><rect width="16" height="16" rx="3" fill="#9146ff"/></svg>';
