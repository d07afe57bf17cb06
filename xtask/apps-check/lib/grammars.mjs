// Loads the tree-sitter grammars (WebAssembly builds shipped in npm packages: nothing native is
// compiled) and lists syntax errors of a parse.
//
// The npm packages live where `cargo xtask apps-check` installed them (`npm ci` into the tools
// folder, outside the clone): WARD_APPS_CHECK_MODULES names that node_modules folder; without it
// they are looked up next to this script.
import path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const base = process.env.WARD_APPS_CHECK_MODULES
  ? path.join(process.env.WARD_APPS_CHECK_MODULES, '..', 'package.json')
  : import.meta.url;
const require = createRequire(base);
const { Parser, Language } = await import(pathToFileURL(require.resolve('web-tree-sitter')).href);

const WASM = {
  swift: () => require.resolve('@repomix/tree-sitter-wasms/out/tree-sitter-swift.wasm'),
  kotlin: () => require.resolve('@tree-sitter-grammars/tree-sitter-kotlin/tree-sitter-kotlin.wasm'),
};

/** { swift: Parser, kotlin: Parser } */
export async function loadParsers() {
  await Parser.init();
  const parsers = {};
  for (const [lang, path] of Object.entries(WASM)) {
    const p = new Parser();
    p.setLanguage(await Language.load(path()));
    parsers[lang] = p;
  }
  return parsers;
}

export function languageOf(file) {
  if (file.endsWith('.kt') || file.endsWith('.kts')) return 'kotlin';
  if (file.endsWith('.swift')) return 'swift';
  return null;
}

/** Every ERROR and MISSING node: `line:col what`. */
export function syntaxErrors(tree) {
  const out = [];
  const walk = (n) => {
    if (n.isError) {
      out.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} syntax error near ${JSON.stringify(n.text.slice(0, 40))}`);
      return;
    }
    if (n.isMissing) {
      out.push(`${n.startPosition.row + 1}:${n.startPosition.column + 1} missing ${JSON.stringify(n.type)}`);
      return;
    }
    if (!n.hasError) return;
    for (let i = 0; i < n.childCount; i++) walk(n.child(i));
  };
  walk(tree.rootNode);
  return out;
}
