// `cargo xtask apps-check`: (1) every .swift / .kt / .kts file under android/ and ios/ parses
// with tree-sitter (no ERROR or MISSING node); (2) every call the app code makes into ward-core
// matches the generated bindings (lib/calls.mjs). Before checking the real code it checks the
// fixtures in fixtures/: each one holds a mistake the checker must report, so a checker that
// stopped finding anything fails too.
//
// usage: node check.mjs <repo root> <bindings dir (target/bindings)>
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadParsers, languageOf, syntaxErrors } from './lib/grammars.mjs';
import { kotlinApi, swiftApi } from './lib/bindings.mjs';
import { KotlinChecker, SwiftChecker } from './lib/calls.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const [root, bindingsDir] = process.argv.slice(2);
if (!root || !bindingsDir) {
  console.error('usage: node check.mjs <repo root> <bindings dir>');
  process.exit(2);
}

/** App sources whose core calls are checked, per language (generated code is excluded). */
const CALL_SOURCES = {
  kotlin: ['android/ward-kit/src', 'android/app/src'],
  swift: ['ios/Sources/WardKit', 'ios/WardApp'],
};
/** At least this many checked call sites per language: a resolver that silently stopped
 * resolving would otherwise pass everything. */
const MIN_CHECKED = { kotlin: 180, swift: 90 };

function walkFiles(dir, out = []) {
  if (!fs.existsSync(dir)) return out;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    if (['node_modules', 'build', '.gradle', 'jniLibs', '.build', 'generated', 'WardCore'].includes(e.name)) continue;
    const p = path.join(dir, e.name);
    if (e.isDirectory()) walkFiles(p, out);
    else if (languageOf(p)) out.push(p);
  }
  return out.sort();
}

const parsers = await loadParsers();
const apis = {
  kotlin: kotlinApi(fs.readFileSync(path.join(bindingsDir, 'kotlin-jvm/org/ward/core/ward_core.kt'), 'utf8')),
  swift: swiftApi(fs.readFileSync(path.join(bindingsDir, 'swift/ward_core.swift'), 'utf8')),
};
for (const [lang, api] of Object.entries(apis)) {
  for (const t of ['WardVault', 'Notes', 'Photos', 'WardSync', 'NoteBody', 'SecureKeyStore']) {
    if (!api.has(t)) {
      console.error(`apps-check: could not read ${t} from the ${lang} bindings (did the generator's output change shape?)`);
      process.exit(1);
    }
  }
}

/** Parses and call-checks `files` (one language each) as one program; returns findings. */
function checkProgram(lang, files) {
  const findings = [];
  const Checker = lang === 'kotlin' ? KotlinChecker : SwiftChecker;
  const checker = new Checker(apis[lang], findings);
  const trees = files.map((f) => ({ f, tree: parsers[lang].parse(fs.readFileSync(f, 'utf8')) }));
  for (const { tree } of trees) checker.declare(tree);
  for (const { f, tree } of trees) checker.check(path.relative(root, f), tree);
  return { findings, checked: checker.checked, unresolved: checker.unresolved };
}

let failed = false;

// 1. The fixtures must each be rejected, with the message their first line promises.
const fixtures = walkFiles(path.join(here, 'fixtures'));
for (const f of fixtures) {
  const lang = languageOf(f);
  const text = fs.readFileSync(f, 'utf8');
  const expect = text.split('\n')[0].match(/expect: (.*)$/)?.[1];
  const errors = syntaxErrors(parsers[lang].parse(text));
  const { findings } = errors.length ? { findings: errors } : checkProgram(lang, [f]);
  const ok = findings.length > 0 && (!expect || findings.some((x) => x.includes(expect)));
  console.log(`apps-check: fixture ${path.basename(f)}: ${ok ? 'rejected as expected' : 'NOT REJECTED'}${findings[0] ? ` (${findings[0].replace(/^.*?: /, '')})` : ''}`);
  if (!ok) failed = true;
}

// 2. Every app source parses.
const all = [...walkFiles(path.join(root, 'android')), ...walkFiles(path.join(root, 'ios'))];
let parseErrors = 0;
for (const f of all) {
  for (const e of syntaxErrors(parsers[languageOf(f)].parse(fs.readFileSync(f, 'utf8')))) {
    console.error(`${path.relative(root, f)}:${e}`);
    parseErrors++;
  }
}
console.log(`apps-check: parsed ${all.length} files (${all.filter((f) => f.endsWith('.swift')).length} Swift, ${all.filter((f) => !f.endsWith('.swift')).length} Kotlin): ${parseErrors} syntax error(s)`);
if (parseErrors) failed = true;

// 3. The apps' calls into the core match the bindings.
for (const [lang, dirs] of Object.entries(CALL_SOURCES)) {
  const files = dirs.flatMap((d) => walkFiles(path.join(root, d))).filter((f) => languageOf(f) === lang && !f.endsWith('.kts'));
  const { findings, checked, unresolved } = checkProgram(lang, files);
  for (const x of findings) console.error(x);
  console.log(`apps-check: ${lang}: ${checked} core call sites checked in ${files.length} files, ${findings.length} mismatch(es); ${unresolved} calls on receivers of unknown type skipped`);
  if (findings.length) failed = true;
  if (checked < MIN_CHECKED[lang]) {
    console.error(`apps-check: only ${checked} ${lang} call sites resolved (expected at least ${MIN_CHECKED[lang]}): the resolver is broken`);
    failed = true;
  }
}

const total = fixtures.length + 1 + 2;
console.log(failed ? 'apps-check: FAILED' : `apps-check: ${total} passed, 0 failed`);
process.exit(failed ? 1 : 0);
