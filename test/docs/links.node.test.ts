import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * The README is short and points into docs/: a reader who follows a link must land on a file that
 * exists and, for `#anchor`, on a heading of that file. External (http, https, mailto) links are
 * not followed.
 */

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
const PAGES = [
  'README.md',
  'client/README.md',
  'standin/README.md',
  ...readdirSync(join(ROOT, 'docs'))
    .filter((file) => file.endsWith('.md'))
    .map((file) => `docs/${file}`),
];

/** The page's text with fenced code blocks and inline code spans blanked, since links there are code. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's anchor for a heading: lower case, punctuation but `-` and `_` dropped, spaces to `-`. */
function slug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, '$1') // a link in a heading keeps its text
    .replace(/<[^>]+>/g, '')
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\s_-]/gu, '').replace(/ /g, '-');
}

/** Every anchor a page's headings make, with GitHub's `-1`, `-2` for repeated headings. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[\s\S]*?^\1/gm, '');
  for (const [, heading] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = slug(heading!);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The relative link targets of a page: `[text](target)`, images and `<a href>` included. */
function relativeLinks(markdown: string): string[] {
  const text = prose(markdown);
  const targets = [...text.matchAll(/\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((match) => match[1]!);
  targets.push(...[...text.matchAll(/<a\s[^>]*href="([^"]+)"/g)].map((match) => match[1]!));
  return targets.filter((target) => !/^[a-z][a-z0-9+.-]*:/i.test(target));
}

/** What is wrong with one link from `page`, or null when it leads somewhere real. */
function problem(page: string, target: string): string | null {
  const [pathPart, anchor] = target.split('#', 2) as [string, string | undefined];
  const file = pathPart === '' ? page : relative(ROOT, join(ROOT, dirname(page), decodeURIComponent(pathPart)));
  if (file.startsWith('..') || !existsSync(join(ROOT, file))) return `${target}: no file ${file}`;
  if (anchor === undefined || !file.endsWith('.md')) return null;
  const known = anchors(readFileSync(join(ROOT, file), 'utf8'));
  return known.has(decodeURIComponent(anchor)) ? null : `${target}: ${file} has no heading #${anchor}`;
}

describe('documentation links', () => {
  it('computes anchors as GitHub does', () => {
    expect(slug('A custom domain and `PUBLIC_URL`')).toBe('a-custom-domain-and-public_url');
    expect(slug('Revocation in seconds (EventSub)')).toBe('revocation-in-seconds-eventsub');
    expect(slug("Moving in from twurple's RefreshingAuthProvider")).toBe('moving-in-from-twurples-refreshingauthprovider');
    expect(slug('Durable Object `UserVault` — one per Twitch user (`idFromName(userId)`)')).toBe(
      'durable-object-uservault--one-per-twitch-user-idfromnameuserid',
    );
  });

  it.each(PAGES)('%s: every relative link leads to a file that exists, and every #anchor to a heading in it', (page) => {
    const markdown = readFileSync(join(ROOT, page), 'utf8');
    const broken = relativeLinks(markdown)
      .map((target) => problem(page, target))
      .filter((found) => found !== null);
    expect(broken).toEqual([]);
  });

  it('checks the pages README.md points to (the docs pages exist and are linked)', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const docsPages = PAGES.filter((page) => page.startsWith('docs/'));
    expect(docsPages.filter((page) => !readme.includes(`](${page}`))).toEqual([]);
  });
});
