// Checks the apps' calls into ward-core against the bindings' API (lib/bindings.mjs).
//
// No compiler runs here for Swift or for Android code, so this resolves types the way a reader
// would, for the patterns the apps use: declared types of parameters and properties, the types
// of initialisers, call chains (`vault.notes().get(id)`), lambda parameters of the apps' own
// helpers (`session.call { v -> ... }` takes `(WardVault) -> T`) and of `use`/`let`/`map`.
// Every call whose receiver resolves to a core type is checked: the member exists; Kotlin:
// argument count and argument names; Swift: the exact argument labels. Construction of core
// records, objects and enum/error cases is checked the same way, as are enum cases named in
// the code and the methods of classes implementing the core's foreign interfaces. Calls whose
// receiver cannot be resolved are counted, not guessed.
import { normType } from './bindings.mjs';

const KOTLIN_ANY_MEMBERS = new Set(['use', 'let', 'also', 'apply', 'run', 'takeIf', 'takeUnless', 'toString', 'hashCode', 'equals', 'close', 'destroy']);
const SWIFT_ANY_MEMBERS = new Set(['map', 'flatMap', 'hash']);
const LIST_ELEMENT = new Set(['map', 'forEach', 'filter', 'any', 'all', 'none', 'find', 'first', 'firstOrNull', 'last', 'lastOrNull', 'count', 'sortedBy', 'sortedByDescending', 'maxByOrNull', 'minByOrNull', 'distinctBy', 'mapNotNull', 'flatMap', 'associateBy', 'groupBy', 'sumOf', 'partition', 'onEach', 'compactMap', 'contains', 'sorted', 'max', 'min', 'filterNot', 'single', 'singleOrNull', 'first']);
const LIST_RETURNS_ELEMENT = new Set(['first', 'firstOrNull', 'last', 'lastOrNull', 'single', 'singleOrNull', 'find', 'maxByOrNull', 'minByOrNull', 'get', 'getOrNull', 'max', 'min']);
const LIST_RETURNS_LIST = new Set(['filter', 'filterNot', 'sortedBy', 'sortedByDescending', 'distinctBy', 'take', 'drop', 'reversed', 'sorted', 'asReversed']);

function listElement(t) {
  const m = t && t.match(/^(?:List|MutableList|Array|Set)<(.+)>$/);
  return m ? normType(m[1]) : null;
}

/** Parameter types of a function type written `(A, B) -> R` (Kotlin) or `(A) throws -> R` (Swift). */
function fnTypeParams(t) {
  if (!t) return null;
  const m = t.replace(/@escaping|@Sendable|suspend/g, '').trim().match(/^\((.*?)\)\s*(?:async\s*)?(?:throws\s*)?->/);
  if (!m) return null;
  return m[1].split(',').map((x) => normType(x.replace(/^\w+\s*:/, '').trim())).filter(Boolean);
}

/** Matches call arguments against a bindings function; returns an error text or null. */
function matchArgs(fn, args, lang, what) {
  const params = fn.params;
  if (lang === 'kotlin') {
    if (args.length !== params.length) return `${what} takes ${params.length} argument(s) (${params.map((p) => p.name).join(', ')}), the call passes ${args.length}`;
    for (const a of args) {
      if (a.label && !params.some((p) => p.name === a.label)) return `${what} has no parameter named ${a.label} (has ${params.map((p) => p.name).join(', ') || 'none'})`;
    }
    return null;
  }
  const want = params.map((p) => (p.label === '_' ? '_' : p.label ?? p.name));
  const got = args.map((a) => a.label ?? '_');
  if (want.join(',') !== got.join(',')) return `${what} is called as (${got.map((l) => l + ':').join('')}) but the bindings declare (${want.map((l) => l + ':').join('')})`;
  return null;
}

class Checker {
  constructor(api, lang, report) {
    this.api = api;
    this.lang = lang;
    this.report = report;
    this.checked = 0;
    this.unresolved = 0;
    // App declarations by name: [{ cls, fn | type }] (cls: the enclosing class, or null).
    this.funcDecls = new Map();
    this.propDecls = new Map();
    this.classes = new Set();
    this.typeCache = new Map();
    this.resolveCache = new Map();
  }

  addFunc(name, cls, fn) {
    if (!this.funcDecls.has(name)) this.funcDecls.set(name, []);
    this.funcDecls.get(name).push({ cls, fn });
  }

  addProp(name, cls, type) {
    if (!this.propDecls.has(name)) this.propDecls.set(name, []);
    this.propDecls.get(name).push({ cls, type });
  }

  /** The app function `name` as seen from class `cls` (or on a receiver of type `cls`). */
  appFunc(name, cls) {
    const all = this.funcDecls.get(name) ?? [];
    const own = all.filter((d) => d.cls === cls);
    if (own.length) return own[0].fn;
    if (cls && this.classes.has(cls)) return null;
    return all.length === 1 ? all[0].fn : null;
  }

  hasFunc(name) {
    return this.funcDecls.has(name);
  }

  appProp(name, cls) {
    const all = this.propDecls.get(name) ?? [];
    const own = all.filter((d) => d.cls === cls);
    if (own.length) return own[0].type;
    if (cls && this.classes.has(cls)) return null;
    const types = new Set(all.map((d) => d.type));
    return types.size === 1 ? all[0].type : null;
  }

  /** Memoised: the same expressions are typed again and again while checking call chains. */
  typeOf(node, depth = 0) {
    if (!node) return null;
    const key = node.id;
    if (this.typeCache.has(key)) return this.typeCache.get(key);
    const t = this.typeOfUncached(node, depth);
    this.typeCache.set(key, t);
    return t;
  }

  resolve(name, node, depth = 0) {
    const key = `${name}@${node.id}`;
    if (this.resolveCache.has(key)) return this.resolveCache.get(key);
    const t = this.resolveUncached(name, node, depth);
    this.resolveCache.set(key, t);
    return t;
  }

  enclosingClass(node) {
    for (let p = node.parent; p; p = p.parent) {
      if (['class_declaration', 'object_declaration', 'protocol_declaration'].includes(p.type)) return p.childForFieldName('name')?.text ?? null;
    }
    return null;
  }

  core(t) {
    return t && this.api.has(t) ? this.api.get(t) : null;
  }

  fail(file, node, msg) {
    this.report.push(`${file}:${node.startPosition.row + 1}:${node.startPosition.column + 1}: ${msg}`);
  }

  checkFn(file, node, fn, args, what) {
    this.checked++;
    const err = matchArgs(fn, args, this.lang, what);
    if (err) this.fail(file, node, err);
  }

  /** A member call on a value of core type `t`. */
  checkMember(file, node, t, member, args) {
    const ty = this.core(t);
    if (ty.methods.has(member)) return this.checkFn(file, node, ty.methods.get(member), args, `${t}.${member}`);
    const any = this.lang === 'kotlin' ? KOTLIN_ANY_MEMBERS : SWIFT_ANY_MEMBERS;
    if (any.has(member)) return;
    if ((ty.kind === 'record' || ty.kind === 'variant') && member === 'copy' && this.lang === 'kotlin') {
      this.checked++;
      for (const a of args) if (!a.label || !ty.fields.has(a.label)) this.fail(file, node, `${t}.copy: ${a.label ?? 'a positional argument'} is not a field of ${t}`);
      return;
    }
    this.checked++;
    this.fail(file, node, `${t} has no method ${member} in the generated bindings`);
  }

  /** `T.member(...)` or `T(...)`: statics, constructors, enum/error cases. */
  checkStatic(file, node, t, member, args) {
    const ty = this.core(t);
    if (member === null) {
      if (ty.kind === 'callback') return this.fail(file, node, `${t} is implemented by the app, not constructed`);
      if (ty.ctors.length === 0) return this.fail(file, node, `${t} has no constructor in the generated bindings`);
      this.checked++;
      const errs = ty.ctors.map((c) => matchArgs(c, args, this.lang, `${t}(...)`));
      if (errs.every(Boolean)) this.fail(file, node, errs[0]);
      return;
    }
    if (ty.statics.has(member)) return this.checkFn(file, node, ty.statics.get(member), args, `${t}.${member}`);
    if (ty.cases.has(member)) {
      const c = ty.cases.get(member);
      if (c.object && args.length === 0 && this.lang === 'kotlin') return this.fail(file, node, `${t}.${member} is an object, not a constructor`);
      return this.checkFn(file, node, c, args, `${t}.${member}`);
    }
    this.checked++;
    this.fail(file, node, `${t}.${member} does not exist in the generated bindings`);
  }

  checkCase(file, node, t, member) {
    const ty = this.core(t);
    if (!['enum', 'sealed', 'error'].includes(ty.kind)) return;
    this.checked++;
    if (!ty.cases.has(member) && !ty.statics.has(member)) this.fail(file, node, `${t}.${member} is not a case of ${t} in the generated bindings`);
  }
}

// ---------------------------------------------------------------------------------------------
// Kotlin

function named(node) {
  const out = [];
  for (let i = 0; i < node.namedChildCount; i++) out.push(node.namedChild(i));
  return out;
}

function kotlinTypeText(node) {
  return node ? normType(node.text) : null;
}

function kotlinArgs(callNode) {
  const va = named(callNode).find((c) => c.type === 'value_arguments');
  if (!va) return [];
  return named(va).filter((c) => c.type === 'value_argument').map((a) => {
    let hasEq = false;
    for (let i = 0; i < a.childCount; i++) if (!a.child(i).isNamed && a.child(i).type === '=') hasEq = true;
    return { label: hasEq ? a.namedChild(0).text : null };
  });
}

const KOTLIN_TYPE_NODES = new Set(['user_type', 'nullable_type', 'function_type', 'parenthesized_type']);

export class KotlinChecker extends Checker {
  constructor(api, report) {
    super(api, 'kotlin', report);
  }

  declare(tree) {
    const walk = (n) => {
      if (n.type === 'function_declaration') {
        const name = n.childForFieldName('name')?.text;
        const params = named(named(n).find((c) => c.type === 'function_value_parameters') ?? { namedChildCount: 0 })
          .filter((p) => p.type === 'parameter')
          .map((p) => ({ name: p.namedChild(0)?.text, type: kotlinTypeText(named(p).find((c) => KOTLIN_TYPE_NODES.has(c.type))) }));
        const ret = named(n).find((c, i, all) => KOTLIN_TYPE_NODES.has(c.type) && all.slice(0, i).some((x) => x.type === 'function_value_parameters'));
        if (name) this.addFunc(name, this.enclosingClass(n), { params, ret: kotlinTypeText(ret) });
      }
      if (n.type === 'class_declaration' || n.type === 'object_declaration') this.classes.add(n.childForFieldName('name')?.text);
      if (n.type === 'class_parameter') {
        const id = named(n).find((c) => c.type === 'identifier');
        const ty = named(n).find((c) => KOTLIN_TYPE_NODES.has(c.type));
        if (id && ty) this.addProp(id.text, this.enclosingClass(n), kotlinTypeText(ty));
      }
      if (n.type === 'property_declaration' && n.parent?.type === 'class_body') {
        const vd = named(n).find((c) => c.type === 'variable_declaration');
        const ty = vd && named(vd).find((c) => KOTLIN_TYPE_NODES.has(c.type));
        if (vd && ty) this.addProp(vd.namedChild(0).text, this.enclosingClass(n), kotlinTypeText(ty));
      }
      for (const c of named(n)) walk(c);
    };
    walk(tree.rootNode);
  }

  typeOfUncached(node, depth = 0) {
    if (!node || depth > 30) return null;
    switch (node.type) {
      case 'identifier':
        return this.resolve(node.text, node, depth);
      case 'parenthesized_expression':
      case 'postfix_expression':
        return this.typeOf(node.namedChild(0), depth + 1);
      case 'as_expression':
        return kotlinTypeText(named(node).find((c) => KOTLIN_TYPE_NODES.has(c.type)));
      case 'navigation_expression': {
        const [recv, member] = [node.namedChild(0), node.namedChild(node.namedChildCount - 1)];
        const rt = this.typeOf(recv, depth + 1);
        const ty = this.core(rt);
        if (ty && ty.fields.has(member.text)) return ty.fields.get(member.text);
        if (!ty && recv.type === 'identifier' && this.core(recv.text) && !this.resolve(recv.text, recv, depth + 1)) return `${recv.text}.${member.text}`;
        return rt && this.classes.has(rt) ? this.appProp(member.text, rt) : null;
      }
      case 'call_expression': {
        const callee = node.namedChild(0);
        if (callee.type === 'navigation_expression') {
          const recv = callee.namedChild(0);
          const member = callee.namedChild(callee.namedChildCount - 1).text;
          if (recv.type === 'identifier' && this.core(recv.text) && !this.resolve(recv.text, recv, depth + 1)) {
            const ty = this.core(recv.text);
            return ty.statics.get(member)?.ret ?? (ty.cases.has(member) ? `${recv.text}.${member}` : null);
          }
          const rt = this.typeOf(recv, depth + 1);
          const ty = this.core(rt);
          if (ty && ty.methods.has(member)) return ty.methods.get(member).ret;
          const el = listElement(rt);
          if (el && LIST_RETURNS_ELEMENT.has(member)) return el;
          if (el && LIST_RETURNS_LIST.has(member)) return rt;
          if (ty || el || !rt || !this.classes.has(rt)) return null;
          return this.appFunc(member, rt)?.ret ?? null;
        }
        if (callee.type === 'identifier') {
          if (this.core(callee.text)) return callee.text;
          if (this.classes.has(callee.text)) return callee.text;
          return this.appFunc(callee.text, this.enclosingClass(node))?.ret ?? null;
        }
        return null;
      }
      default:
        return null;
    }
  }

  lambdaParam(lambda, index, depth) {
    const call = lambda.parent?.type === 'annotated_lambda' ? lambda.parent.parent : null;
    if (!call || call.type !== 'call_expression') return null;
    const callee = call.namedChild(0);
    let recv = null;
    let name = callee.text;
    if (callee.type === 'navigation_expression') {
      recv = callee.namedChild(0);
      name = callee.namedChild(callee.namedChildCount - 1).text;
    }
    if (recv && ['use', 'let', 'also', 'takeIf', 'takeUnless'].includes(name)) return this.typeOf(recv, depth + 1);
    if (recv && LIST_ELEMENT.has(name)) return listElement(this.typeOf(recv, depth + 1));
    if (recv && ['mapIndexed', 'forEachIndexed'].includes(name)) return index === 1 ? listElement(this.typeOf(recv, depth + 1)) : 'Int';
    const rt = recv ? this.typeOf(recv, depth + 1) : this.enclosingClass(call);
    const fn = this.appFunc(name, rt);
    const last = fn?.params[fn.params.length - 1];
    const ps = fnTypeParams(last?.type);
    return ps ? ps[index] ?? null : null;
  }

  resolveUncached(name, node, depth = 0) {
    if (depth > 30) return null;
    for (let child = node, p = node.parent; p; child = p, p = p.parent) {
      if (p.type === 'lambda_literal') {
        const lp = named(p).find((c) => c.type === 'lambda_parameters');
        if (lp) {
          const ids = named(lp).map((v) => v.namedChild(0)?.text ?? v.text);
          const i = ids.indexOf(name);
          if (i >= 0) {
            const declared = named(lp)[i] && named(named(lp)[i]).find((c) => KOTLIN_TYPE_NODES.has(c.type));
            return declared ? kotlinTypeText(declared) : this.lambdaParam(p, i, depth);
          }
        } else if (name === 'it') return this.lambdaParam(p, 0, depth);
      }
      if (p.type === 'function_declaration') {
        const fvp = named(p).find((c) => c.type === 'function_value_parameters');
        for (const param of fvp ? named(fvp) : []) {
          if (param.type === 'parameter' && param.namedChild(0)?.text === name) return kotlinTypeText(named(param).find((c) => KOTLIN_TYPE_NODES.has(c.type)));
        }
      }
      if (p.type === 'class_declaration') {
        const pc = named(p).find((c) => c.type === 'primary_constructor');
        const cps = pc ? named(named(pc).find((c) => c.type === 'class_parameters') ?? { namedChildCount: 0 }) : [];
        for (const cp of cps) {
          const id = named(cp).find((c) => c.type === 'identifier');
          if (id?.text === name) return kotlinTypeText(named(cp).find((c) => KOTLIN_TYPE_NODES.has(c.type)));
        }
      }
      if (['block', 'statements', 'class_body', 'source_file', 'lambda_literal', 'function_body', 'control_structure_body'].includes(p.type)) {
        for (const s of named(p)) {
          if (s.startIndex >= child.startIndex && p.type !== 'class_body') break;
          if (s.type !== 'property_declaration') continue;
          const vd = named(s).find((c) => c.type === 'variable_declaration');
          if (vd?.namedChild(0)?.text !== name) continue;
          const declared = named(vd).find((c) => KOTLIN_TYPE_NODES.has(c.type));
          if (declared) return kotlinTypeText(declared);
          const init = named(s).find((c, i, all) => i > all.indexOf(vd) && !KOTLIN_TYPE_NODES.has(c.type));
          return init ? this.typeOf(init, depth + 1) : null;
        }
      }
      if (p.type === 'for_statement') {
        const vd = named(p).find((c) => c.type === 'variable_declaration');
        if (vd?.namedChild(0)?.text === name) {
          const iter = named(p).find((c, i, all) => i > all.indexOf(vd));
          return listElement(this.typeOf(iter, depth + 1));
        }
      }
    }
    return this.appProp(name, this.enclosingClass(node));
  }

  check(file, tree) {
    const walk = (n) => {
      if (n.type === 'call_expression') this.checkCall(file, n);
      else if (n.type === 'navigation_expression' && n.parent?.type !== 'call_expression') this.checkNav(file, n);
      else if (n.type === 'user_type' && n.namedChildCount === 2 && n.namedChild(0).type === 'identifier' && this.core(n.namedChild(0).text)) {
        this.checkCase(file, n, n.namedChild(0).text, n.namedChild(1).text);
      }
      if (n.type === 'class_declaration' || n.type === 'object_literal') this.checkImpl(file, n);
      for (const c of named(n)) walk(c);
    };
    walk(tree.rootNode);
  }

  checkCall(file, n) {
    const callee = n.namedChild(0);
    const args = kotlinArgs(n);
    if (callee.type === 'navigation_expression') {
      const recv = callee.namedChild(0);
      const member = callee.namedChild(callee.namedChildCount - 1).text;
      if (recv.type === 'identifier' && this.core(recv.text) && !this.resolve(recv.text, recv)) return this.checkStatic(file, n, recv.text, member, args);
      const rt = this.typeOf(recv);
      if (this.core(rt)) return this.checkMember(file, n, rt, member, args);
      if (rt === null && !this.hasFunc(member)) this.unresolved++;
      return;
    }
    if (callee.type === 'identifier' && this.core(callee.text) && !this.hasFunc(callee.text)) this.checkStatic(file, n, callee.text, null, args);
  }

  checkNav(file, n) {
    const recv = n.namedChild(0);
    const member = n.namedChild(n.namedChildCount - 1).text;
    if (recv.type === 'identifier' && this.core(recv.text) && !this.resolve(recv.text, recv)) return this.checkCase(file, n, recv.text, member);
    const rt = this.typeOf(recv);
    const ty = this.core(rt);
    if (ty && (ty.kind === 'record' || ty.kind === 'variant')) {
      this.checked++;
      if (!ty.fields.has(member)) this.fail(file, n, `${rt} has no field ${member} in the generated bindings`);
    }
  }

  checkImpl(file, n) {
    const specs = named(n).find((c) => c.type === 'delegation_specifiers');
    if (!specs) return;
    const body = named(n).find((c) => c.type === 'class_body');
    const funcs = body ? named(body).filter((c) => c.type === 'function_declaration') : [];
    for (const spec of named(specs)) {
      const name = spec.text.replace(/\(.*$/s, '').trim();
      const ty = this.core(name);
      if (!ty || ty.kind !== 'callback') continue;
      for (const f of funcs) {
        if (!/\boverride\b/.test(named(f).find((c) => c.type === 'modifiers')?.text ?? '')) continue;
        const fname = f.childForFieldName('name')?.text;
        const params = named(named(f).find((c) => c.type === 'function_value_parameters') ?? { namedChildCount: 0 }).filter((p) => p.type === 'parameter');
        this.checked++;
        const m = ty.methods.get(fname);
        if (!m) this.fail(file, f, `${name} has no method ${fname} to override`);
        else if (m.params.length !== params.length) this.fail(file, f, `${name}.${fname} takes ${m.params.length} parameter(s), the override ${params.length}`);
      }
      const abstract = /\babstract\b/.test(named(n).find((c) => c.type === 'modifiers')?.text ?? '');
      if (!abstract) {
        for (const m of ty.methods.keys()) {
          this.checked++;
          if (!funcs.some((f) => f.childForFieldName('name')?.text === m)) this.fail(file, n, `implements ${name} but not ${m}`);
        }
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Swift

function swiftArgs(callNode) {
  const suffix = named(callNode).find((c) => c.type === 'call_suffix');
  if (!suffix) return [];
  const va = named(suffix).find((c) => c.type === 'value_arguments');
  const args = va ? named(va).filter((c) => c.type === 'value_argument').map((a) => ({ label: a.childForFieldName('name')?.text ?? null })) : [];
  return args;
}

/** The type node of a Swift `parameter` (after its labels and modifiers such as @escaping). */
function swiftParamType(param) {
  return named(param).find((c) => c.type !== 'simple_identifier' && c.type !== 'parameter_modifiers' && c.type !== 'attribute');
}

function swiftTypeText(node) {
  if (!node) return null;
  return normType(node.text.replace(/^:\s*/, ''));
}

export class SwiftChecker extends Checker {
  constructor(api, report) {
    super(api, 'swift', report);
  }

  declare(tree) {
    const walk = (n) => {
      if (n.type === 'function_declaration') {
        const kids = named(n);
        const name = kids.find((c) => c.type === 'simple_identifier')?.text;
        const params = kids.filter((c) => c.type === 'parameter').map((p) => ({
          name: named(p).filter((c) => c.type === 'simple_identifier').pop()?.text,
          type: swiftTypeText(swiftParamType(p)),
        }));
        const body = kids.findIndex((c) => c.type === 'function_body');
        const lastParam = kids.map((c) => c.type).lastIndexOf('parameter');
        const ret = kids.slice(lastParam + 1, body < 0 ? undefined : body).find((c) => /type$/.test(c.type) && c.type !== 'throws');
        if (name) this.addFunc(name, this.enclosingClass(n), { params, ret: swiftTypeText(ret) });
      }
      if (n.type === 'class_declaration') this.classes.add(n.childForFieldName('name')?.text);
      if (n.type === 'property_declaration' && ['class_body', 'protocol_body'].includes(n.parent?.type)) {
        const name = n.childForFieldName('name')?.text;
        const ta = named(n).find((c) => c.type === 'type_annotation');
        if (name && ta) this.addProp(name, this.enclosingClass(n), swiftTypeText(ta));
      }
      for (const c of named(n)) walk(c);
    };
    walk(tree.rootNode);
  }

  typeOfUncached(node, depth = 0) {
    if (!node || depth > 30) return null;
    switch (node.type) {
      case 'simple_identifier':
        return this.resolve(node.text, node, depth);
      case 'try_expression':
      case 'await_expression':
        return this.typeOf(node.childForFieldName('expr') ?? node.namedChild(node.namedChildCount - 1), depth + 1);
      case 'tuple_expression':
      case 'postfix_expression':
      case 'force_unwrap_expression':
        return this.typeOf(node.namedChild(0), depth + 1);
      case 'nil_coalescing_expression':
        return this.typeOf(node.namedChild(0), depth + 1) ?? this.typeOf(node.namedChild(1), depth + 1);
      case 'navigation_expression': {
        const recv = node.childForFieldName('target');
        const member = node.childForFieldName('suffix')?.namedChild(0)?.text;
        const rt = this.typeOf(recv, depth + 1);
        const ty = this.core(rt);
        if (ty && ty.fields.has(member)) return ty.fields.get(member);
        return rt && this.classes.has(rt) ? this.appProp(member, rt) : null;
      }
      case 'call_expression': {
        const callee = node.namedChild(0);
        if (callee.type === 'navigation_expression') {
          const recv = callee.childForFieldName('target');
          const member = callee.childForFieldName('suffix')?.namedChild(0)?.text;
          if (recv?.type === 'simple_identifier' && this.core(recv.text) && !this.resolve(recv.text, recv, depth + 1)) {
            return this.core(recv.text).statics.get(member)?.ret ?? null;
          }
          const rt = this.typeOf(recv, depth + 1);
          const ty = this.core(rt);
          if (ty && ty.methods.has(member)) return ty.methods.get(member).ret;
          if (ty || listElement(rt) || !rt || !this.classes.has(rt)) return null;
          return this.appFunc(member, rt)?.ret ?? null;
        }
        if (callee.type === 'simple_identifier') {
          if (this.core(callee.text)) return callee.text;
          if (this.classes.has(callee.text)) return callee.text;
          return this.appFunc(callee.text, this.enclosingClass(node))?.ret ?? null;
        }
        return null;
      }
      default:
        return null;
    }
  }

  lambdaParam(lambda, index, depth) {
    const suffix = lambda.parent;
    const call = suffix?.type === 'call_suffix' ? suffix.parent : suffix?.parent?.parent;
    if (!call || call.type !== 'call_expression') return null;
    const callee = call.namedChild(0);
    let name = callee.text;
    let recv = null;
    if (callee.type === 'navigation_expression') {
      recv = callee.childForFieldName('target');
      name = callee.childForFieldName('suffix')?.namedChild(0)?.text;
    }
    if (recv && LIST_ELEMENT.has(name)) return listElement(this.typeOf(recv, depth + 1));
    if (recv && name === 'run') return null;
    const fn = this.appFunc(name, recv ? this.typeOf(recv, depth + 1) : this.enclosingClass(call));
    const last = fn?.params[fn.params.length - 1];
    const ps = fnTypeParams(last?.type);
    return ps ? ps[index] ?? null : null;
  }

  resolveUncached(name, node, depth = 0) {
    if (depth > 30) return null;
    for (let child = node, p = node.parent; p; child = p, p = p.parent) {
      if (p.type === 'lambda_literal') {
        const ft = named(p).find((c) => c.type === 'lambda_function_type');
        const ps = ft ? named(named(ft).find((c) => c.type === 'lambda_function_type_parameters') ?? { namedChildCount: 0 }) : [];
        const i = ps.findIndex((lp) => (lp.childForFieldName('name')?.text ?? lp.text) === name);
        if (i >= 0) return this.lambdaParam(p, i, depth);
        const dollar = name.match(/^\$(\d+)$/);
        if (dollar) return this.lambdaParam(p, Number(dollar[1]), depth);
      }
      if (p.type === 'function_declaration' || p.type === 'init_declaration') {
        for (const param of named(p).filter((c) => c.type === 'parameter')) {
          const ids = named(param).filter((c) => c.type === 'simple_identifier');
          if (ids[ids.length - 1]?.text === name) return swiftTypeText(swiftParamType(param));
        }
      }
      if (['statements', 'class_body', 'source_file', 'function_body'].includes(p.type)) {
        for (const s of named(p)) {
          if (s.startIndex >= child.startIndex && p.type !== 'class_body') break;
          if (s.type === 'property_declaration' && s.childForFieldName('name')?.text === name) {
            const ta = named(s).find((c) => c.type === 'type_annotation');
            if (ta) return swiftTypeText(ta);
            return this.typeOf(s.childForFieldName('value'), depth + 1);
          }
          if (s.type === 'guard_statement') {
            const ids = named(s).filter((c) => c.type === 'simple_identifier');
            const i = ids.findIndex((c) => c.text === name);
            if (i >= 0 && ids[i + 1]) return this.typeOf(ids[i + 1], depth + 1);
          }
        }
      }
      if (p.type === 'if_statement' || p.type === 'guard_statement') {
        const ids = named(p).filter((c) => c.type === 'simple_identifier');
        const i = ids.findIndex((c) => c.text === name);
        if (i >= 0 && ids[i + 1]) return this.typeOf(ids[i + 1], depth + 1);
      }
      if ((p.type === 'switch_entry' || p.type === 'catch_block') && new RegExp(`\\blet\\s+${name}\\b|\\(${name}\\)`).test(p.text.split('\n')[0])) return null;
    }
    return this.appProp(name, this.enclosingClass(node));
  }

  check(file, tree) {
    const walk = (n) => {
      if (n.type === 'call_expression') this.checkCall(file, n);
      else if (n.type === 'navigation_expression' && n.parent?.type !== 'call_expression') this.checkNav(file, n);
      if (n.type === 'class_declaration') this.checkImpl(file, n);
      for (const c of named(n)) walk(c);
    };
    walk(tree.rootNode);
  }

  checkCall(file, n) {
    const callee = n.namedChild(0);
    const args = swiftArgs(n);
    if (callee.type === 'navigation_expression') {
      const recv = callee.childForFieldName('target');
      const member = callee.childForFieldName('suffix')?.namedChild(0)?.text;
      if (!recv || !member) return;
      if (recv.type === 'simple_identifier' && this.core(recv.text) && !this.resolve(recv.text, recv)) return this.checkStatic(file, n, recv.text, member, args);
      const rt = this.typeOf(recv);
      if (this.core(rt)) return this.checkMember(file, n, rt, member, args);
      if (rt === null && !this.hasFunc(member)) this.unresolved++;
      return;
    }
    if (callee.type === 'simple_identifier' && this.core(callee.text) && !this.hasFunc(callee.text)) return this.checkStatic(file, n, callee.text, null, args);
    if (callee.type === 'prefix_expression' && callee.text.startsWith('.')) {
      // `.soap(subjective: ...)`: an enum case of whichever core enum declares that name.
      const member = callee.text.slice(1);
      const owners = [...this.api].filter(([, t]) => t.cases.has(member) && !t.cases.get(member).object);
      if (owners.length === 0) return;
      this.checked++;
      const errs = owners.map(([name, t]) => matchArgs(t.cases.get(member), args, 'swift', `${name}.${member}`));
      if (errs.every(Boolean)) this.fail(file, n, errs[0]);
    }
  }

  checkNav(file, n) {
    const recv = n.childForFieldName('target');
    const member = n.childForFieldName('suffix')?.namedChild(0)?.text;
    if (!recv || !member) return;
    if (recv.type === 'simple_identifier' && this.core(recv.text) && !this.resolve(recv.text, recv)) return this.checkCase(file, n, recv.text, member);
    const rt = this.typeOf(recv);
    const ty = this.core(rt);
    if (ty && ty.kind === 'record') {
      this.checked++;
      if (!ty.fields.has(member)) this.fail(file, n, `${rt} has no field ${member} in the generated bindings`);
    }
  }

  checkImpl(file, n) {
    const specs = named(n).filter((c) => c.type === 'inheritance_specifier');
    const body = named(n).find((c) => c.type === 'class_body');
    const funcs = body ? named(body).filter((c) => c.type === 'function_declaration') : [];
    for (const spec of specs) {
      const name = spec.text.trim();
      const ty = this.core(name);
      if (!ty || ty.kind !== 'callback') continue;
      for (const [m, fn] of ty.methods) {
        this.checked++;
        const impl = funcs.find((f) => named(f).find((c) => c.type === 'simple_identifier')?.text === m);
        if (!impl) {
          this.fail(file, n, `implements ${name} but not ${m}`);
          continue;
        }
        const labels = named(impl).filter((c) => c.type === 'parameter').map((p) => {
          const ids = named(p).filter((c) => c.type === 'simple_identifier');
          return ids[0]?.text;
        });
        const want = fn.params.map((p) => p.label ?? p.name);
        if (labels.join(',') !== want.join(',')) this.fail(file, impl, `${name}.${m} is declared (${want.map((l) => l + ':').join('')}) but implemented as (${labels.map((l) => l + ':').join('')})`);
      }
    }
  }
}
