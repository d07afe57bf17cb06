// Reads the public API out of the uniffi-generated Kotlin and Swift bindings.
//
// The generated files are machine-written and regular, but tree-sitter's grammars reject a few
// of their constructs (a doc comment glued to `override fun`, `#if` between statements), so
// they are read line by line after removing comments and string literals, tracking brace depth.
//
// Model: Map<typeName, { kind, methods: Map<name, Fn>, statics: Map<name, Fn>, ctors: Fn[],
//   fields: Map<name, type>, cases: Map<name, Fn> }>, with Fn = { params: [{ name, type }], ret }.

function newType(kind) {
  return { kind, methods: new Map(), statics: new Map(), ctors: [], fields: new Map(), cases: new Map() };
}

function stripComments(text) {
  return text
    .replace(/\/\*[\s\S]*?\*\//g, (m) => m.replace(/[^\n]/g, ' '))
    .replace(/\/\/[^\n]*/g, '')
    .replace(/"(?:[^"\\\n]|\\.)*"/g, '""');
}

/** Splits `a: A, b: Map<K, V>` at top-level commas. */
function splitTop(s) {
  const out = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if ('<([{'.includes(ch)) depth++;
    if ('>)]}'.includes(ch)) depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur);
  return out.map((x) => x.trim()).filter(Boolean);
}

export function normType(t) {
  if (!t) return null;
  let s = t.replace(/`/g, '').replace(/\bkotlin\./g, '').replace(/\bSwift\./g, '').trim();
  s = s.replace(/\s*=.*$/, '').trim();
  while (s.endsWith('?') || s.endsWith('!')) s = s.slice(0, -1);
  const arr = s.match(/^\[(.*)\]$/);
  if (arr && !arr[1].includes(':')) return `List<${normType(arr[1])}>`;
  return s;
}

function kotlinParams(s) {
  return splitTop(s).map((p) => {
    const m = p.match(/^(?:va[lr]\s+)?`?(\w+)`?\s*:\s*(.+)$/);
    return m ? { name: m[1], type: normType(m[2]) } : { name: p, type: null };
  });
}

/** The Kotlin bindings' API. */
export function kotlinApi(source) {
  const types = new Map();
  const get = (name, kind) => {
    if (!types.has(name)) types.set(name, newType(kind));
    const t = types.get(name);
    if (kind && t.kind === 'unknown') t.kind = kind;
    return t;
  };
  const lines = stripComments(source).split('\n');
  let depth = 0;
  let top = null; // { name, mode }
  let inCompanion = -1;
  let collect = null; // { target: Fn|fields, until: RegExp, text }
  let nested = null; // sealed/exception variant being collected
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    const t = line.trim();
    if (collect) {
      collect.text += ' ' + t;
      if (collect.closed(collect.text)) {
        collect.done(kotlinParams(collect.inner ? collect.inner(collect.text) : collect.text.replace(/\)[^)]*$/, '')));
        collect = null;
      }
    } else if (depth === 0) {
      let m;
      if (t === '{' || t === '') {
        // the body of the declaration on the previous line
      } else inCompanion = -1;
      if ((m = t.match(/^(?:public )?interface (\w+)Interface\b/))) top = { name: m[1], mode: 'iface', type: get(m[1], 'object') };
      else if ((m = t.match(/^(?:public )?interface (\w+)\s*\{/))) top = { name: m[1], mode: 'iface', type: get(m[1], 'callback') };
      else if ((m = t.match(/^open class (\w+)\s*:/))) top = { name: m[1], mode: 'class', type: get(m[1], types.get(m[1])?.kind ?? 'object') };
      else if ((m = t.match(/^data class (\w+)\s*\(/))) {
        const ty = get(m[1], 'record');
        top = null;
        collect = { text: '', closed: (x) => /^\s*\)|\)\s*$/.test(x.split('\n').pop()) && /\)/.test(x), done: (ps) => { for (const p of ps) ty.fields.set(p.name, p.type); ty.ctors.push({ params: ps, ret: m[1] }); } };
      } else if ((m = t.match(/^sealed class (\w+)/))) top = { name: m[1], mode: 'sealed', type: get(m[1], 'sealed') };
      else if ((m = t.match(/^enum class (\w+)/))) top = { name: m[1], mode: 'enum', type: get(m[1], 'enum') };
      else if (t && t !== '{' && !t.startsWith('@') && !t.startsWith('}')) top = null;
    } else if (top) {
      let m;
      if (top.mode === 'iface' && depth === 1 && (m = t.match(/^(?:suspend )?fun `?(\w+)`?\((.*)\)\s*(?::\s*(.+))?$/))) {
        top.type.methods.set(m[1], { params: kotlinParams(m[2]), ret: normType(m[3]) ?? 'Unit' });
      } else if (top.mode === 'class' && depth === 1 && (m = t.match(/^constructor\((.*)\)\s*:/)) && !/handle|NoHandle/i.test(m[1])) {
        top.type.ctors.push({ params: kotlinParams(m[1]), ret: top.name });
      } else if (top.mode === 'class' && depth === 1 && /^companion object\s*\{/.test(t)) {
        inCompanion = depth + 1;
      } else if (top.mode === 'class' && depth === inCompanion && (m = t.match(/^(?:@Throws\([^)]*\)\s*)?fun `(\w+)`\((.*)\)\s*:\s*(\w+)\s*\{/))) {
        top.type.statics.set(m[1], { params: kotlinParams(m[2]), ret: normType(m[3]) });
      } else if (top.mode === 'sealed' && depth === 1 && (m = t.match(/^(?:data )?class (\w+)\s*\((.*)$/))) {
        const name = m[1];
        const variant = get(`${top.name}.${name}`, 'variant');
        const parent = top.type;
        const rest = m[2];
        const done = (ps) => { variant.ctors.push({ params: ps, ret: top.name }); for (const p of ps) variant.fields.set(p.name, p.type); parent.cases.set(name, { params: ps, ret: top.name }); };
        const closed = (x) => /\)\s*:\s*\w+\(\)/.test(x);
        if (closed(rest)) done(kotlinParams(rest.replace(/\)\s*:.*$/, '')));
        else collect = { text: rest, closed, done, inner: (x) => x.replace(/\)\s*:[\s\S]*$/, '') };
        nested = name;
      } else if (top.mode === 'sealed' && depth === 1 && (m = t.match(/^object (\w+)\s*:/))) {
        top.type.cases.set(m[1], { params: [], ret: top.name, object: true });
      } else if (top.mode === 'enum' && depth === 1 && (m = t.match(/^([A-Z][A-Z0-9_]*)\s*[,;]?$/))) {
        top.type.cases.set(m[1], { params: [], ret: top.name, object: true });
      }
    }
    for (const ch of line) {
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
    }
    if (depth < 0) depth = 0;
  }
  void nested;
  // Exceptions are sealed classes whose name ends in Exception.
  for (const [name, t] of types) if (t.kind === 'sealed' && name.endsWith('Exception')) t.kind = 'error';
  return types;
}

function swiftParams(s) {
  return splitTop(s).map((p) => {
    const m = p.match(/^(?:(\w+)\s+)?(\w+)\s*:\s*(.+)$/);
    if (!m) return { name: p, label: p, type: null };
    const label = m[1] ?? m[2];
    return { name: m[2], label, type: normType(m[3].replace(/^(?:inout|@escaping)\s+/, '')) };
  });
}

/** The Swift bindings' API (labels kept: Swift calls must use them). */
export function swiftApi(source) {
  const types = new Map();
  const get = (name, kind) => {
    if (!types.has(name)) types.set(name, newType(kind));
    const t = types.get(name);
    if (kind && t.kind === 'unknown') t.kind = kind;
    return t;
  };
  // Join "public \nenum X" (uniffi writes the modifier on its own line for errors).
  const text = stripComments(source).replace(/public\s*\n\s*enum/g, 'public enum');
  const lines = text.split('\n');
  let depth = 0;
  let top = null;
  let collect = null;
  for (const raw of lines) {
    const line = raw.replace(/\s+$/, '');
    const t = line.trim();
    if (collect) {
      collect.text += ' ' + t;
      if (collect.closed(collect.text)) {
        collect.done(swiftParams(collect.inner(collect.text)));
        collect = null;
      }
    } else if (depth === 0) {
      let m;
      if ((m = t.match(/^public protocol (\w+)Protocol\s*:/))) top = { name: m[1], mode: 'proto', type: get(m[1], 'object') };
      else if ((m = t.match(/^public protocol (\w+)\s*:/))) top = { name: m[1], mode: 'proto', type: get(m[1], 'callback') };
      else if ((m = t.match(/^(?:open|public|final|public final|open public) class (\w+)\s*[:{]/))) top = { name: m[1], mode: 'class', type: get(m[1], types.get(m[1])?.kind ?? 'object') };
      else if ((m = t.match(/^public struct (\w+)\s*[:{]/))) top = { name: m[1], mode: 'struct', type: get(m[1], 'record') };
      else if ((m = t.match(/^public enum (\w+)\s*:\s*(.*)\{/))) top = { name: m[1], mode: 'enum', type: get(m[1], /Error/.test(m[2]) ? 'error' : 'enum') };
      else if (t && !t.startsWith('@') && !t.startsWith('}')) top = null;
    } else if (top) {
      let m;
      if (top.mode === 'proto' && depth === 1 && (m = t.match(/^func (\w+)\((.*)\)\s*(?:async\s*)?(?:throws\s*)?(?:->\s*(.+))?$/))) {
        top.type.methods.set(m[1], { params: swiftParams(m[2]), ret: normType(m[3]) ?? 'Void' });
      } else if (top.mode === 'class' && depth === 1 && (m = t.match(/^public convenience init\((.*)\)/)) && !/noHandle|unsafeFromHandle/.test(m[1])) {
        top.type.ctors.push({ params: swiftParams(m[1]), ret: top.name });
      } else if (top.mode === 'class' && depth === 1 && (m = t.match(/^public static func `?(\w+)`?\((.*)\)\s*(?:throws\s*)?->\s*(\w+)/))) {
        top.type.statics.set(m[1], { params: swiftParams(m[2]), ret: normType(m[3]) });
      } else if (top.mode === 'struct' && depth === 1 && (m = t.match(/^public (?:var|let) (\w+)\s*:\s*(.+)$/))) {
        top.type.fields.set(m[1], normType(m[2]));
      } else if (top.mode === 'struct' && depth === 1 && /^public init\(/.test(t)) {
        const ty = top.type;
        const name = top.name;
        collect = {
          text: t.replace(/^public init\(/, ''),
          closed: (s) => /\)\s*\{/.test(s),
          inner: (s) => s.replace(/\)\s*\{[\s\S]*$/, ''),
          done: (ps) => ty.ctors.push({ params: ps, ret: name }),
        };
        if (collect.closed(collect.text)) { collect.done(swiftParams(collect.inner(collect.text))); collect = null; }
      } else if (top.mode === 'enum' && depth === 1 && (m = t.match(/^case (\w+)\s*(\(?)(.*)$/))) {
        const ty = top.type;
        const name = m[1];
        if (!m[2]) ty.cases.set(name, { params: [], ret: top.name, object: true });
        else {
          collect = {
            text: m[3],
            closed: (s) => s.includes(')'),
            inner: (s) => s.replace(/\)[\s\S]*$/, ''),
            done: (ps) => ty.cases.set(name, { params: ps, ret: top.name }),
          };
          if (collect.closed(collect.text)) { collect.done(swiftParams(collect.inner(collect.text))); collect = null; }
        }
      }
    }
    for (const ch of line) {
      if (ch === '{') depth++;
      else if (ch === '}') depth--;
    }
    if (depth < 0) depth = 0;
  }
  return types;
}
