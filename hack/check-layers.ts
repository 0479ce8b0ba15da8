// The import layers of src/, checked from the imports themselves (parsed with
// the TypeScript compiler, so comments and strings cannot fool it):
//
//   cycle     no import cycle between modules of src/ (type-only imports
//             count too: a cycle of types is still a tangle);
//   pure-core src/api, src/schedule and src/reconcile (the pure core), and the
//             pure helpers listed in PURE_HELPERS, import at run time only
//             each other: no package, no node: builtin, no other src module
//             (anything outside may do I/O). Type-only imports are erased by
//             the compiler and load nothing, so they are allowed;
//   no-tools  nothing in src/ imports from test/ or hack/.
//
// test/reconcile/purity.test.ts complements this: it follows the same value
// imports and also forbids clock, timer and random calls in their bodies.
//
// Prints each violation as `file: imports X (rule; line N)` and exits 1 if any.
// Usage: npm run layers   (node --import tsx hack/check-layers.ts [root])
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const ROOT = resolve(process.argv[2] ?? join(dirname(new URL(import.meta.url).pathname), '..'));
const CORE = ['src/api/', 'src/schedule/', 'src/reconcile/'];
/** Modules outside the core directories that the core may import: pure, and checked as the core is. */
const PURE_HELPERS = ['src/manifest/cross.ts', 'src/manifest/errors.ts', 'src/ha/decide.ts'];
/** Packages and builtins the core may import at run time. None so far. */
const PURE_PACKAGES: string[] = [];

interface Import {
  spec: string;
  /** The project file it resolves to (relative to ROOT), if it is one. */
  target: string | undefined;
  typeOnly: boolean;
  line: number;
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|mjs|js)$/.test(name) && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

function resolveSpec(from: string, spec: string): string | undefined {
  if (!spec.startsWith('.') && !spec.startsWith('/')) return undefined;
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, '.ts'), base.replace(/\.mjs$/, '.mts'), base, `${base}.ts`, join(base, 'index.ts')];
  const hit = candidates.find((c) => existsSync(c) && statSync(c).isFile());
  return relative(ROOT, hit ?? base);
}

function importsOf(file: string): Import[] {
  const text = readFileSync(file, 'utf8');
  const sf = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, true, file.endsWith('.mjs') || file.endsWith('.js') ? ts.ScriptKind.JS : ts.ScriptKind.TS);
  const out: Import[] = [];
  const add = (lit: ts.Node, typeOnly: boolean) => {
    if (!ts.isStringLiteralLike(lit)) return;
    out.push({ spec: lit.text, target: resolveSpec(file, lit.text), typeOnly, line: sf.getLineAndCharacterOfPosition(lit.getStart()).line + 1 });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const c = node.importClause;
      const namedTypes = c?.namedBindings && ts.isNamedImports(c.namedBindings) && c.namedBindings.elements.length > 0 && c.namedBindings.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, !!c && (c.isTypeOnly || (!c.name && !!namedTypes)));
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier) {
      const namedTypes = node.exportClause && ts.isNamedExports(node.exportClause) && node.exportClause.elements.length > 0 && node.exportClause.elements.every((e) => e.isTypeOnly);
      add(node.moduleSpecifier, node.isTypeOnly || !!namedTypes);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node.isTypeOnly);
    } else if (ts.isCallExpression(node) && (node.expression.kind === ts.SyntaxKind.ImportKeyword || (ts.isIdentifier(node.expression) && node.expression.text === 'require'))) {
      if (node.arguments[0]) add(node.arguments[0], false);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, true);
    }
    ts.forEachChild(node, visit);
  };
  visit(sf);
  return out;
}

const inCore = (file: string) => CORE.some((d) => file.startsWith(d)) || PURE_HELPERS.includes(file);

export interface Violation {
  file: string;
  line: number;
  imports: string;
  rule: string;
}

/** One shortest cycle through the first node of each strongly connected component (Tarjan) with a cycle. */
function rings(edges: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const sccs: string[][] = [];
  const strong = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of edges.get(v) ?? []) {
      if (!idx.has(w)) {
        strong(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (edges.get(v) ?? []).includes(v)) sccs.push(scc.sort());
    }
  };
  for (const v of [...edges.keys()].sort()) if (!idx.has(v)) strong(v);
  const out: string[][] = [];
  for (const scc of sccs.sort((a, b) => (a[0]! < b[0]! ? -1 : 1))) {
    const members = new Set(scc);
    const start = scc[0]!;
    // Breadth-first from start back to start, inside the component.
    const prev = new Map<string, string>();
    const queue = [start];
    let end: string | undefined;
    while (queue.length > 0 && end === undefined) {
      const v = queue.shift()!;
      for (const w of edges.get(v) ?? []) {
        if (w === start) {
          end = v;
          break;
        }
        if (members.has(w) && !prev.has(w)) {
          prev.set(w, v);
          queue.push(w);
        }
      }
    }
    const ring = [start];
    for (let v = end!; v !== start; v = prev.get(v)!) ring.splice(1, 0, v);
    out.push(ring);
  }
  return out;
}

export function checkLayers(root = ROOT): Violation[] {
  const files = sourceFiles(join(root, 'src')).map((f) => relative(root, f));
  const graph = new Map<string, Import[]>(files.map((f) => [f, importsOf(join(root, f))]));
  const violations: Violation[] = [];

  for (const [file, imports] of graph) {
    for (const imp of imports) {
      const target = imp.target;
      if (target !== undefined && (target.startsWith('test/') || target.startsWith('hack/') || target.startsWith('..'))) {
        violations.push({ file, line: imp.line, imports: target, rule: 'no-tools: src/ must not import from test/ or hack/' });
      }
      if (!inCore(file) || imp.typeOnly) continue;
      if (target === undefined) {
        if (!PURE_PACKAGES.includes(imp.spec)) violations.push({ file, line: imp.line, imports: imp.spec, rule: 'pure-core: the core imports no package or builtin at run time' });
      } else if (target.startsWith('src/') && !inCore(target)) {
        violations.push({ file, line: imp.line, imports: target, rule: 'pure-core: the core imports only src/api, src/schedule, src/reconcile and the pure helpers at run time' });
      }
    }
  }

  // Cycles between modules, then between the directories of src/ (a module
  // cycle inside one directory is reported once, by the first).
  const edges = new Map<string, string[]>();
  for (const [file, imports] of graph) edges.set(file, [...new Set(imports.map((i) => i.target).filter((t): t is string => t !== undefined && graph.has(t)))].sort());
  for (const ring of rings(edges)) {
    for (let i = 0; i < ring.length; i++) {
      const from = ring[i]!;
      const to = ring[(i + 1) % ring.length]!;
      const line = graph.get(from)!.find((imp) => imp.target === to)!.line;
      violations.push({ file: from, line, imports: to, rule: `cycle: ${[...ring, ring[0]].join(' → ')}` });
    }
  }
  const dirOf = (f: string) => dirname(f);
  const dirEdges = new Map<string, Set<string>>();
  for (const [from, tos] of edges) for (const to of tos) if (dirOf(from) !== dirOf(to)) (dirEdges.get(dirOf(from)) ?? dirEdges.set(dirOf(from), new Set()).get(dirOf(from))!).add(dirOf(to));
  for (const ring of rings(new Map([...dirEdges].map(([d, s]) => [d, [...s].sort()])))) {
    for (let i = 0; i < ring.length; i++) {
      const from = ring[i]!;
      const to = ring[(i + 1) % ring.length]!;
      for (const [file, imports] of graph) {
        if (dirOf(file) !== from) continue;
        for (const imp of imports) {
          if (imp.target !== undefined && graph.has(imp.target) && dirOf(imp.target) === to) {
            violations.push({ file, line: imp.line, imports: imp.target, rule: `directory cycle: ${[...ring, ring[0]].join(' → ')}` });
          }
        }
      }
    }
  }
  return violations;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === new URL(import.meta.url).pathname) {
  const violations = checkLayers();
  for (const v of violations) console.log(`${v.file}: imports ${v.imports} (${v.rule}; line ${v.line})`);
  if (violations.length > 0) {
    console.error(`${violations.length} import-layer violation(s)`);
    process.exit(1);
  }
  console.log('import layers: ok');
}
