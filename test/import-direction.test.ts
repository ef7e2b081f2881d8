/**
 * Dependencies point one way (design.md, "Pipeline"): the stages sources → event → route →
 * delivery → sinks, with shared contracts (src/core) and plumbing (telemetry, util, net, runtime)
 * below them, and the commands on top. A source hands entries to the PipelineIntake interface
 * in src/core, never to delivery; route and event never read config; sinks never call back into
 * delivery. This test reads every import of src/ (static, `export … from`, and dynamic) and fails
 * on one that goes against the table below.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';

const ROOT = path.resolve(import.meta.dirname, '../..');

type Layer =
  | 'app'
  | 'sources'
  | 'kong-admin'
  | 'delivery'
  | 'shape'
  | 'sinks'
  | 'config'
  | 'route'
  | 'event'
  | 'core'
  | 'base'
  | 'tools';

/** What each layer may import besides itself. */
const MAY_IMPORT: Readonly<Record<Layer, readonly Layer[]>> = {
  /** main, relay, commands, admin: the composition root, and the demo's lazily loaded tools. */
  app: ['sources', 'kong-admin', 'delivery', 'shape', 'sinks', 'config', 'route', 'event', 'core', 'base', 'tools'],
  sources: ['kong-admin', 'shape', 'config', 'event', 'core', 'base'],
  /** The Admin API client and the workspace names it reads (sources and routing use them). */
  'kong-admin': ['config', 'event', 'core', 'base'],
  delivery: ['kong-admin', 'shape', 'sinks', 'route', 'config', 'event', 'core', 'base'],
  sinks: ['shape', 'config', 'event', 'core', 'base'],
  /** config compiles rules, templates and shaping into the types it resolves into. */
  config: ['shape', 'route', 'event', 'core', 'base'],
  /** The shape stage (redaction, fields, payload, dedupe): below config, which builds it. */
  shape: ['route', 'event', 'core', 'base'],
  route: ['event', 'core', 'base'],
  /** acknowledgements, ring queue, dead-letter writer, PipelineIntake: they carry events. */
  core: ['event', 'base'],
  event: ['base'],
  base: [],
  /** tools/ (traffic generator, receivers, emulator): dev tools over the relay's own modules. */
  tools: ['event', 'core', 'base'],
};

function layerOf(file: string): Layer | 'outside' {
  const rel = path.relative(ROOT, file).split(path.sep);
  if (rel[0] === 'tools') return 'tools';
  if (rel[0] !== 'src') return 'outside';
  if (rel.length === 2) return rel[1] === 'version.ts' || rel[1] === 'runtime.ts' ? 'base' : 'app';
  switch (rel[1]) {
    case 'commands':
    case 'admin':
      return 'app';
    case 'sources':
    case 'delivery':
    case 'sinks':
    case 'config':
    case 'route':
    case 'event':
    case 'core':
    case 'shape':
    case 'kong-admin':
      return rel[1];
    case 'telemetry':
    case 'util':
    case 'net':
      return 'base';
    default:
      throw new Error(`${path.relative(ROOT, file)}: a folder this test does not know; add it to the table`);
  }
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(full));
    else if (e.name.endsWith('.ts')) out.push(full);
  }
  return out;
}

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
function relativeImports(text: string): string[] {
  const out: string[] = [];
  const pattern = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;
  for (const m of text.matchAll(pattern)) out.push(m[1]);
  return out;
}

interface Edge {
  readonly from: string;
  readonly to: string;
  readonly fromLayer: Layer;
  readonly toLayer: Layer | 'outside';
}

function importEdges(): Edge[] {
  const edges: Edge[] = [];
  for (const file of [...sourceFiles(path.join(ROOT, 'src')), ...sourceFiles(path.join(ROOT, 'tools'))]) {
    const fromLayer = layerOf(file);
    if (fromLayer === 'outside') continue;
    for (const spec of relativeImports(readFileSync(file, 'utf8'))) {
      const target = path.resolve(path.dirname(file), spec);
      edges.push({
        from: path.relative(ROOT, file),
        to: path.relative(ROOT, target),
        fromLayer,
        toLayer: layerOf(target),
      });
    }
  }
  return edges;
}

describe('import direction', () => {
  const edges = importEdges();

  it('reads the imports of src/ (the check sees what it checks)', () => {
    assert.ok(edges.length > 100, `only ${edges.length} imports found`);
    assert.ok(edges.some((e) => e.from === 'src/delivery/pipeline.ts' && e.to === 'src/core/pipeline-intake.ts'));
    assert.ok(
      edges.some((e) => e.from === 'src/main.ts' && e.to === 'src/commands/run.ts'),
      'dynamic imports',
    );
  });

  it('no module imports a layer above its own (sources → event → route → delivery → sinks, contracts below)', () => {
    const backwards = edges.filter(
      (e) => e.toLayer !== e.fromLayer && (e.toLayer === 'outside' || !MAY_IMPORT[e.fromLayer].includes(e.toLayer)),
    );
    assert.deepEqual(
      backwards.map((e) => `${e.from} (${e.fromLayer}) imports ${e.to} (${e.toLayer})`),
      [],
      'move the shared piece down (src/core for contracts) or pass it in from the layer above',
    );
  });

  it('the table has no cycle: every layer can be ordered below the ones that import it', () => {
    const order: Layer[] = [];
    const pending = new Set(Object.keys(MAY_IMPORT) as Layer[]);
    while (pending.size > 0) {
      const next = [...pending].find((l) => MAY_IMPORT[l].every((d) => order.includes(d)));
      assert.ok(next !== undefined, `a cycle among ${[...pending].join(', ')}`);
      order.push(next);
      pending.delete(next);
    }
  });

  it('finds each kind of import', () => {
    const text = [
      "import { a } from '../a.ts';",
      "import type { B } from './b.ts';",
      "export { c } from '../c/c.ts';",
      "import './side-effect.ts';",
      "const d = await import('../d.ts');",
      "import { e } from 'node:fs';",
    ].join('\n');
    assert.deepEqual(relativeImports(text), ['../a.ts', './b.ts', '../c/c.ts', './side-effect.ts', '../d.ts']);
  });
});
