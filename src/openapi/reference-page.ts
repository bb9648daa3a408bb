import type { OpenAPIV3_1 } from 'openapi-types';

/**
 * /docs: the OpenAPI document rendered on the server as one static page, with no script at all
 * (reference UIs like Swagger UI or Scalar load theirs from a CDN, which the broker's security
 * headers are meant to rule out). A side index lists the operations by tag; long JSON Schemas fold
 * into <details>, which needs no script either.
 */

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The page's only inline content; the route allows it by hash in its Content-Security-Policy. */
const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;margin:0;color:#1f1f23;display:grid;grid-template-columns:20rem minmax(0,1fr)}
nav{position:sticky;top:0;height:100vh;overflow-y:auto;box-sizing:border-box;padding:1rem;border-right:1px solid #ddd;background:#f8f8fa;font-size:13px;line-height:1.4}
nav h2{font-size:13px;text-transform:uppercase;letter-spacing:.05em;color:#53535f;margin:1rem 0 .3rem}nav ul{list-style:none;margin:0;padding:0}
nav a{color:inherit;text-decoration:none}nav li a{display:block;padding:.15rem .3rem;border-radius:4px;overflow-wrap:anywhere}nav li a.operation{display:grid;grid-template-columns:3.4rem 1fr}
nav li a:hover,nav h2 a:hover{background:#e9e9ef}nav .top{font-weight:600;font-size:16px}
.method{font:600 11px/1.8 ui-monospace,monospace;color:#53535f}
main{max-width:56rem;padding:1rem 2rem 4rem;min-width:0}
section{border-top:1px solid #ddd;padding-top:.5rem}h3 code{background:#f2f2f5;padding:.1rem .3rem;border-radius:4px}
pre{background:#f2f2f5;padding:1rem;border-radius:6px;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
summary{cursor:pointer;color:#53535f}
@media (max-width:50rem){body{display:block}nav{position:static;height:auto;border-right:0;border-bottom:1px solid #ddd}main{padding:1rem}}
`;

/** The Content-Security-Policy for the page: nothing but its own stylesheet. */
export async function referencePagePolicy(): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode(STYLE)));
  const styleHash = btoa(String.fromCharCode(...digest));
  return `default-src 'none'; style-src 'sha256-${styleHash}'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`;
}

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!);

/** `code spans` in descriptions become <code>; everything else is escaped. */
const prose = (text: string | undefined): string => escapeHtml(text ?? '').replace(/`([^`]+)`/g, (_, code: string) => `<code>${code}</code>`);

type Schema = OpenAPIV3_1.SchemaObject | OpenAPIV3_1.ReferenceObject;
type Operation = { method: (typeof METHODS)[number]; path: string; operation: OpenAPIV3_1.OperationObject; anchor: string };

const oneOf = (values: unknown[]): string => `one of ${values.map((value) => `<code>${escapeHtml(String(value))}</code>`).join(', ')}`;

/** The anchor of a component on this page: `#schema-Error`, `#response-Refused`. */
function refAnchor(ref: string): { href: string; name: string } {
  const [, , kind, name = ''] = ref.split('/');
  return { href: `#${kind === 'responses' ? 'response' : 'schema'}-${escapeHtml(name)}`, name: escapeHtml(name) };
}

/** An inline error body `{"error", "error_description"}`: its codes are in the response's description. */
const isErrorBody = (schema: OpenAPIV3_1.SchemaObject): boolean => Object.keys(schema.properties ?? {}).join() === 'error,error_description';

/** A short type label: a link to a named schema, or the type with its constraints. */
function typeLabel(schema: Schema | undefined): string {
  if (!schema) return '';
  if ('$ref' in schema) {
    const { href, name } = refAnchor(schema.$ref);
    return `<a href="${href}">${name}</a>`;
  }
  if (schema.anyOf) return schema.anyOf.map((member) => typeLabel(member as Schema)).join(' or ');
  if (isErrorBody(schema)) return '<a href="#schema-Error">Error</a>';
  const parts = [escapeHtml(String(schema.type ?? 'any'))];
  if (schema.type === 'array' && schema.items) parts[0] = `array of ${typeLabel(schema.items as Schema)}`;
  if (schema.enum) parts.push(oneOf(schema.enum));
  if (schema.pattern) parts.push(`matching <code>${escapeHtml(schema.pattern)}</code>`);
  return parts.join(', ');
}

/** A schema as a table of its fields (when it has any), with the whole JSON Schema folded below. */
function renderSchema(schema: Schema | undefined): string {
  if (!schema) return '';
  if ('$ref' in schema) return `<p>${typeLabel(schema)}</p>`;
  const required = new Set(schema.required ?? []);
  const rows = Object.entries(schema.properties ?? {}).map(([name, property]) => {
    const described = '$ref' in property ? '' : prose(property.description);
    return `<tr><td><code>${escapeHtml(name)}</code>${required.has(name) ? '' : ' (optional)'}</td><td>${typeLabel(property)}</td><td>${described}</td></tr>`;
  });
  const table = rows.length > 0 ? `<table><tr><th>field</th><th>type</th><th></th></tr>${rows.join('')}</table>` : '';
  return `${table}<details><summary>JSON Schema</summary><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre></details>`;
}

function renderParameters(parameters: OpenAPIV3_1.OperationObject['parameters']): string {
  const rows = (parameters ?? [])
    .filter((parameter): parameter is OpenAPIV3_1.ParameterObject => !('$ref' in parameter))
    .map(
      (parameter) =>
        `<tr><td><code>${escapeHtml(parameter.name)}</code></td><td>${escapeHtml(parameter.in)}${parameter.required ? ', required' : ''}</td><td>${typeLabel(parameter.schema as Schema | undefined)}</td><td>${prose(parameter.description)}</td></tr>`,
    );
  return rows.length > 0 ? `<table><tr><th>parameter</th><th>in</th><th>type</th><th></th></tr>${rows.join('')}</table>` : '';
}

function renderBody(body: OpenAPIV3_1.OperationObject['requestBody']): string {
  if (!body || '$ref' in body) return '';
  return Object.entries(body.content)
    .map(([media, content]) => `<p>Body (<code>${escapeHtml(media)}</code>):</p>${renderSchema(content.schema as Schema | undefined)}`)
    .join('');
}

/** A response in a line: its body types and headers, then what it means. */
function responseLine(response: OpenAPIV3_1.ResponseObject | OpenAPIV3_1.ReferenceObject): string {
  if ('$ref' in response) return `: ${typeLabel(response)}`;
  const bodies = Object.entries(response.content ?? {}).map(([media, content]) => `${typeLabel(content.schema as Schema | undefined)} (${escapeHtml(media)})`);
  const headers = Object.keys(response.headers ?? {}).map((name) => `header <code>${escapeHtml(name)}</code>`);
  return ` ${[...bodies, ...headers].join(', ')}: ${prose(response.description)}`;
}

const renderResponses = (responses: OpenAPIV3_1.ResponsesObject | undefined): string =>
  `<ul>${Object.entries(responses ?? {})
    .map(([status, response]) => `<li><b>${escapeHtml(status)}</b>${responseLine(response)}</li>`)
    .join('')}</ul>`;

function renderSecurity(security: OpenAPIV3_1.SecurityRequirementObject[] | undefined): string {
  if (!security || security.length === 0) return '<p>Auth: none</p>';
  const options = security.map((requirement) =>
    Object.entries(requirement)
      .map(
        ([scheme, roles]) =>
          `<a href="#security-${escapeHtml(scheme)}">${escapeHtml(scheme)}</a>${roles.length > 0 ? ` (scope ${roles.map(escapeHtml).join(', ')})` : ''}`,
      )
      .join(' and '),
  );
  return `<p>Auth: ${options.join(' or ')}</p>`;
}

const renderOperation = ({ method, path, operation, anchor }: Operation): string => `<section id="${anchor}">
<h3><code>${method.toUpperCase()} ${escapeHtml(path)}</code> ${prose(operation.summary)}</h3>
${operation.description ? `<p>${prose(operation.description)}</p>` : ''}${renderSecurity(operation.security)}${renderParameters(operation.parameters)}${renderBody(operation.requestBody)}${renderResponses(operation.responses)}
</section>`;

/** The operations under each tag, in the document's tag order; untagged ones last, under "other". */
function operationsByTag(document: OpenAPIV3_1.Document): Array<{ name: string; description: string | undefined; operations: Operation[] }> {
  const groups = new Map((document.tags ?? []).map((tag) => [tag.name, { name: tag.name, description: tag.description, operations: [] as Operation[] }]));
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item?.[method];
      if (!operation) continue;
      const name = operation.tags?.[0] ?? 'other';
      if (!groups.has(name)) groups.set(name, { name, description: undefined, operations: [] });
      groups.get(name)!.operations.push({ method, path, operation, anchor: escapeHtml(operation.operationId ?? `${method}-${path}`) });
    }
  }
  return [...groups.values()].filter((group) => group.operations.length > 0);
}

/** The side index: every operation by tag, then the reference sections. */
function renderIndex(document: OpenAPIV3_1.Document, groups: ReturnType<typeof operationsByTag>): string {
  const tags = groups.map(
    (group) =>
      `<h2><a href="#tag-${escapeHtml(group.name)}">${escapeHtml(group.name)}</a></h2><ul>${group.operations
        .map(
          ({ method, path, anchor }) =>
            `<li><a class="operation" href="#${anchor}"><span class="method">${method.toUpperCase()}</span>${escapeHtml(path)}</a></li>`,
        )
        .join('')}</ul>`,
  );
  return `<nav aria-label="Index"><a class="top" href="#top">${escapeHtml(document.info.title)}</a>
<h2><a href="#auth">Auth</a></h2>
${tags.join('\n')}
<h2>Components</h2><ul><li><a href="#responses">Shared responses</a></li><li><a href="#schemas">Schemas</a></li></ul></nav>`;
}

/** The whole page. */
export function renderReferencePage(document: OpenAPIV3_1.Document): string {
  const groups = operationsByTag(document);
  const routes = groups.map(
    (group) =>
      `<h2 id="tag-${escapeHtml(group.name)}">${escapeHtml(group.name)}</h2>${group.description ? `<p>${prose(group.description)}</p>` : ''}\n${group.operations.map(renderOperation).join('\n')}`,
  );
  const schemes = Object.entries(document.components?.securitySchemes ?? {}).map(
    ([name, scheme]) =>
      `<dt id="security-${escapeHtml(name)}"><code>${escapeHtml(name)}</code></dt><dd>${'description' in scheme ? prose(scheme.description) : ''}</dd>`,
  );
  const responses = Object.entries(document.components?.responses ?? {}).map(
    ([name, response]) => `<h3 id="response-${escapeHtml(name)}">${escapeHtml(name)}</h3><p>${responseLine(response).replace(/^:? /, '')}</p>`,
  );
  const schemas = Object.entries(document.components?.schemas ?? {}).map(
    ([name, schema]) =>
      `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3><p>${prose(schema.description)}</p>${renderSchema(schema)}</section>`,
  );
  const servers = (document.servers ?? []).map((server) => `<p>Base URL: <code>${escapeHtml(server.url)}</code></p>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(document.info.title)} API</title>
<style>${STYLE}</style></head><body>
${renderIndex(document, groups)}
<main>
<h1 id="top">${escapeHtml(document.info.title)} <small>${escapeHtml(document.info.version)}</small></h1>
<p>${prose(document.info.description)}</p>
${servers}<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(document.openapi)}).</p>
<h2 id="auth">Auth</h2><dl>${schemes.join('')}</dl>
${routes.join('\n')}
<h2 id="responses">Shared responses</h2>${responses.join('\n')}
<h2 id="schemas">Schemas</h2>${schemas.join('\n')}
</main>
</body></html>`;
}
