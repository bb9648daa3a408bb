import type { OpenAPIV3_1 } from 'openapi-types';

/**
 * /docs: the OpenAPI document rendered on the server as one static page, with no script at all
 * (reference UIs like Swagger UI or Scalar load theirs from a CDN, which the broker's security
 * headers are meant to rule out).
 */

const METHODS = ['get', 'post', 'put', 'patch', 'delete'] as const;

/** The page's only inline content; the route allows it by hash in its Content-Security-Policy. */
const STYLE = `
body{font:16px/1.5 system-ui,sans-serif;max-width:56rem;margin:2rem auto;padding:0 1rem;color:#1f1f23}
section{border-top:1px solid #ddd;padding-top:.5rem}h3 code{background:#f2f2f5;padding:.1rem .3rem;border-radius:4px}
pre{background:#f2f2f5;padding:1rem;border-radius:6px;overflow:auto}table{border-collapse:collapse}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
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
const prose = (text: string | undefined): string =>
  escapeHtml(text ?? '').replace(/`([^`]+)`/g, (_, code: string) => `<code>${code}</code>`);

type Schema = OpenAPIV3_1.SchemaObject | OpenAPIV3_1.ReferenceObject;

const oneOf = (values: unknown[]): string => `one of ${values.map((value) => `<code>${escapeHtml(String(value))}</code>`).join(', ')}`;

/** A short type label: a link to a named schema, or the type with its constraints. */
function typeLabel(schema: Schema | undefined): string {
  if (!schema) return '';
  if ('$ref' in schema) {
    const name = schema.$ref.split('/').pop() ?? '';
    return `<a href="#schema-${escapeHtml(name)}">${escapeHtml(name)}</a>`;
  }
  if (schema.anyOf) return schema.anyOf.map((member) => typeLabel(member as Schema)).join(' or ');
  const parts = [escapeHtml(String(schema.type ?? 'any'))];
  if (schema.enum) parts.push(oneOf(schema.enum));
  if (schema.pattern) parts.push(`matching <code>${escapeHtml(schema.pattern)}</code>`);
  // An inline error body: the codes its `error` can hold are what a reader looks for.
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    if (!('$ref' in property) && property.enum) parts.push(`<code>${escapeHtml(name)}</code> ${oneOf(property.enum)}`);
  }
  return parts.join(', ');
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
    .map(([media, content]) => `<p>Body (<code>${escapeHtml(media)}</code>):</p><pre>${escapeHtml(JSON.stringify(content.schema, null, 2))}</pre>`)
    .join('');
}

function renderResponses(responses: OpenAPIV3_1.ResponsesObject | undefined): string {
  const items = Object.entries(responses ?? {}).map(([status, response]) => {
    if ('$ref' in response) return `<li><b>${escapeHtml(status)}</b>: ${typeLabel(response as OpenAPIV3_1.ReferenceObject)}</li>`;
    const bodies = Object.entries(response.content ?? {}).map(([media, content]) => `${typeLabel(content.schema as Schema | undefined)} (${escapeHtml(media)})`);
    const headers = Object.keys(response.headers ?? {}).map((name) => `header <code>${escapeHtml(name)}</code>`);
    return `<li><b>${escapeHtml(status)}</b> ${[...bodies, ...headers].join(', ')}: ${prose(response.description)}</li>`;
  });
  return `<ul>${items.join('')}</ul>`;
}

function renderSecurity(security: OpenAPIV3_1.SecurityRequirementObject[] | undefined): string {
  if (!security || security.length === 0) return '<p>Auth: none</p>';
  const options = security.map((requirement) =>
    Object.entries(requirement)
      .map(([scheme, roles]) => `<a href="#security-${escapeHtml(scheme)}">${escapeHtml(scheme)}</a>${roles.length > 0 ? ` (scope ${roles.map(escapeHtml).join(', ')})` : ''}`)
      .join(' and '),
  );
  return `<p>Auth: ${options.join(' or ')}</p>`;
}

/** The whole page. */
export function renderReferencePage(document: OpenAPIV3_1.Document): string {
  const operations: string[] = [];
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const method of METHODS) {
      const operation = item?.[method];
      if (!operation) continue;
      operations.push(`<section id="${escapeHtml(operation.operationId ?? `${method}-${path}`)}">
<h3><code>${method.toUpperCase()} ${escapeHtml(path)}</code> ${prose(operation.summary)}</h3>
${operation.description ? `<p>${prose(operation.description)}</p>` : ''}${renderSecurity(operation.security)}${renderParameters(operation.parameters)}${renderBody(operation.requestBody)}${renderResponses(operation.responses)}
</section>`);
    }
  }
  const schemes = Object.entries(document.components?.securitySchemes ?? {}).map(
    ([name, scheme]) => `<dt id="security-${escapeHtml(name)}"><code>${escapeHtml(name)}</code></dt><dd>${'description' in scheme ? prose(scheme.description) : ''}</dd>`,
  );
  const schemas = Object.entries(document.components?.schemas ?? {}).map(
    ([name, schema]) => `<h3 id="schema-${escapeHtml(name)}">${escapeHtml(name)}</h3><p>${prose(schema.description)}</p><pre>${escapeHtml(JSON.stringify(schema, null, 2))}</pre>`,
  );
  const servers = (document.servers ?? []).map((server) => `<p>Base URL: <code>${escapeHtml(server.url)}</code></p>`).join('');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${escapeHtml(document.info.title)} API</title>
<style>${STYLE}</style></head><body>
<h1>${escapeHtml(document.info.title)} <small>${escapeHtml(document.info.version)}</small></h1>
<p>${prose(document.info.description)}</p>
${servers}<p>Machine-readable: <a href="/openapi.json">/openapi.json</a> (OpenAPI ${escapeHtml(document.openapi)}).</p>
<h2>Auth</h2><dl>${schemes.join('')}</dl>
<h2>Routes</h2>${operations.join('\n')}
<h2>Schemas</h2>${schemas.join('\n')}
</body></html>`;
}
