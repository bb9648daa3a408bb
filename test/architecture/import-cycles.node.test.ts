import { fileURLToPath } from 'node:url';
import { parseCircular, parseDependencyTree, shortenTree } from 'dpdm';
import { describe, expect, it } from 'vitest';

/**
 * The module graph stays a tree of layers: a value import cycle means loading one module runs
 * another half-initialised (and, here, that importing the Twitch client pulled in the directory
 * class). Type-only imports are erased at build time and do not count.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

async function valueImportTree() {
  const tree = await parseDependencyTree(['src/**/*.ts', 'src/**/*.tsx', 'client/*.ts'], {
    cwd: ROOT,
    context: ROOT,
    tsconfig: `${ROOT}tsconfig.json`,
    transform: true,
  });
  return shortenTree(ROOT, tree);
}

describe('the module graph', () => {
  it('has no value-import cycle in src/ or client/', async () => {
    const cycles = parseCircular(await valueImportTree());
    expect(cycles.map((cycle) => cycle.join(' -> '))).toEqual([]);
  });

  it('keeps metrics a leaf: everything it imports is itself a leaf (no Durable Object, no Twitch client)', async () => {
    const tree = await valueImportTree();
    const reached = new Set<string>();
    const visit = (id: string) => {
      for (const dependency of tree[id] ?? []) {
        if (dependency.id === null || reached.has(dependency.id)) continue;
        reached.add(dependency.id);
        visit(dependency.id);
      }
    };
    visit('src/metrics/metrics.ts');
    const ownModules = [...reached].filter((id) => id.startsWith('src/'));
    expect(ownModules.length).toBeGreaterThan(0);
    const notLeaves = ownModules.filter((id) => (tree[id] ?? []).some((dependency) => dependency.id?.startsWith('src/')));
    expect(notLeaves).toEqual([]);
  });
});
