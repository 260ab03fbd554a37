import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { ROOT } from '../helpers/headless';

/**
 * The modules the studio's main thread loads at start: every static value import, from the
 * entries on. Type-only imports are erased; `import()` is where loading on demand starts.
 */
function staticGraph(entries: string[]): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  const pending = [...entries];
  while (pending.length > 0) {
    const file = pending.pop()!;
    if (graph.has(file)) continue;
    const source = readFileSync(file, 'utf8')
      .replace(/\/\*[\s\S]*?\*\//g, '')
      .replace(/^\s*\/\/.*$/gm, '');
    const specifiers: string[] = [];
    for (const match of source.matchAll(
      /^\s*(?:import|export)\s+(type\s+)?[^;'"]*?from\s*['"]([^'"]+)['"]/gm,
    ))
      if (match[1] === undefined) specifiers.push(match[2]!);
    for (const match of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) specifiers.push(match[1]!);
    graph.set(file, specifiers);
    for (const specifier of specifiers) {
      if (!specifier.startsWith('.')) continue;
      const base = join(dirname(file), specifier);
      const resolved = [`${base}.ts`, join(base, 'index.ts'), base].find(
        (p) => existsSync(p) && p.endsWith('.ts'),
      );
      assert.ok(resolved, `${relative(ROOT, file)} imports ${specifier}, which was not found`);
      pending.push(resolved);
    }
  }
  return graph;
}

describe('what the main thread loads', () => {
  const entries = ['src/main/headless.ts', 'src/main/index.ts'].map((p) => join(ROOT, p));

  it('never werift when the media plane runs on workers: only localMedia.ts, imported on demand, does', () => {
    const graph = staticGraph(entries);
    const importers = [...graph].filter(([, specifiers]) =>
      specifiers.some((s) => s === 'werift' || s.startsWith('werift/')),
    );
    assert.deepEqual(
      importers.map(([file]) => relative(ROOT, file)),
      [],
      'these modules make the main thread load werift even with media workers: move what needs it to src/main/rooms/localMedia.ts',
    );
    // The rule has something to find: the module loaded on demand is werift's way in.
    const local = staticGraph([join(ROOT, 'src/main/rooms/localMedia.ts')]);
    assert.ok([...local.values()].some((specifiers) => specifiers.includes('werift')));
    assert.ok(graph.has(join(ROOT, 'src/main/rooms/loadLocalMedia.ts')));
    assert.ok(graph.size > 50, `only ${graph.size} modules found from the entries`);
  });
});
