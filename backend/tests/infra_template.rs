//! The infrastructure template (`infra/template.yaml`) against the code it deploys:
//!
//! - every route of the Router's table ([`ward_backend::api::routes`]) is exactly one `HttpApi`
//!   event, on exactly one function, and the template routes nothing else (the embedded-only
//!   `/blobs` routes are not routed on AWS: photos go straight to S3 there);
//! - every `WARD_*` variable the backend reads ([`ward_backend::config::ENV_VARS`], itself
//!   checked against the string literals of `config.rs`) is set for the functions, except the
//!   local-only ones, which must not be; and nothing else named `WARD_*` is set;
//! - the table's key, index and TTL attribute names are the ones the DynamoDB adapter uses,
//!   and the KMS conditions name the adapter's tenant tag and encryption-context key.
//!
//! The template is read with a small reader for the YAML this file needs (block mappings and
//! sequences, one-line flow mappings, block scalars skipped); cfn-lint, `sam validate` and
//! checkov check the rest (`cargo xtask infra-check`).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // Test code.

use std::collections::{BTreeMap, BTreeSet};

use ward_backend::api::openapi::Access;
use ward_backend::config::{ENV_VARS, LOCAL_ONLY_ENV_VARS};

const TEMPLATE: &str = include_str!("../../infra/template.yaml");
const CONFIG_RS: &str = include_str!("../src/config.rs");
/// The table's key schema (attribute names, index names).
const TABLE_RS: &str = include_str!("../src/store/aws/keys.rs");
const KMS_RS: &str = include_str!("../src/store/aws/kms.rs");

/// One `key: value` (or `- value`) line of the template, with its parent.
#[derive(Debug)]
struct Node {
    indent: usize,
    key: String,
    value: String,
    line: usize,
    parent: Option<usize>,
}

/// The template as a tree of nodes (index 0.. in file order).
#[derive(Debug)]
struct Yaml {
    nodes: Vec<Node>,
}

fn unquote(s: &str) -> String {
    let s = s.trim();
    let quoted = s.len() >= 2
        && ((s.starts_with('"') && s.ends_with('"')) || (s.starts_with('\'') && s.ends_with('\'')));
    if quoted {
        s[1..s.len() - 1].to_string()
    } else {
        s.to_string()
    }
}

/// Splits `key: value` at the first `": "` (or a trailing `:`) outside quotes.
fn split_key(s: &str) -> Option<(String, String)> {
    let mut quote = None;
    let bytes = s.as_bytes();
    for (i, &c) in bytes.iter().enumerate() {
        match (quote, c) {
            (None, b'"' | b'\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, b':') if i + 1 == bytes.len() || bytes[i + 1] == b' ' => {
                return Some((unquote(&s[..i]), s[i + 1..].trim().to_string()));
            }
            _ => {}
        }
    }
    None
}

/// The `key: value` pairs of a one-line flow mapping `{ k: v, k: { … }, k: "…" }`, split at
/// its top-level commas (nested mappings stay raw values); `None` if `s` is not one.
fn flow_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let inner = s.strip_prefix('{')?.strip_suffix('}')?;
    let mut pairs = Vec::new();
    let (mut depth, mut quote, mut start) = (0usize, None, 0usize);
    for (i, c) in inner.char_indices() {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, '{' | '[') => depth += 1,
            (None, '}' | ']') => depth = depth.saturating_sub(1),
            (None, ',') if depth == 0 => {
                pairs.push(split_key(inner[start..i].trim())?);
                start = i + 1;
            }
            _ => {}
        }
    }
    pairs.push(split_key(inner[start..].trim())?);
    Some(pairs)
}

impl Yaml {
    fn parse(text: &str) -> Self {
        let mut nodes: Vec<Node> = Vec::new();
        let mut block_scalar_indent: Option<usize> = None;
        for (n, raw) in text.lines().enumerate() {
            let trimmed = raw.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let mut indent = raw.len() - trimmed.len();
            if let Some(i) = block_scalar_indent {
                if indent > i {
                    continue;
                }
                block_scalar_indent = None;
            }
            let mut rest = trimmed;
            // `- item`: a sequence node, with the item's mapping (if any) indented under it.
            while let Some(item) = rest.strip_prefix("- ") {
                nodes.push(Self::node(&nodes, indent, "-", "", n + 1));
                indent += 2;
                rest = item.trim_start();
            }
            if let Some(pairs) = flow_pairs(rest) {
                // `- { k: v, … }`: the pairs belong to the sequence item just pushed.
                Self::push_pairs(&mut nodes, pairs, indent, n + 1);
                continue;
            }
            let Some((key, value)) = split_key(rest) else {
                nodes.push(Self::node(&nodes, indent, "-", rest, n + 1));
                continue;
            };
            if matches!(value.as_str(), ">" | ">-" | "|" | "|-") {
                block_scalar_indent = Some(indent);
            }
            match flow_pairs(&value) {
                Some(pairs) => {
                    nodes.push(Self::node(&nodes, indent, &key, "", n + 1));
                    Self::push_pairs(&mut nodes, pairs, indent + 1, n + 1);
                }
                None => nodes.push(Self::node(&nodes, indent, &key, &value, n + 1)),
            }
        }
        Self { nodes }
    }

    fn push_pairs(nodes: &mut Vec<Node>, pairs: Vec<(String, String)>, indent: usize, line: usize) {
        let parent = nodes.len().checked_sub(1);
        for (key, value) in pairs {
            nodes.push(Node {
                indent,
                key,
                value: unquote(&value),
                line,
                parent,
            });
        }
    }

    fn node(nodes: &[Node], indent: usize, key: &str, value: &str, line: usize) -> Node {
        let parent = nodes.iter().rposition(|p| p.indent < indent);
        Node {
            indent,
            key: key.to_string(),
            value: unquote(value),
            line,
            parent,
        }
    }

    fn children(&self, parent: Option<usize>) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&i| self.nodes[i].parent == parent)
    }

    fn child(&self, parent: Option<usize>, key: &str) -> Option<usize> {
        self.children(parent).find(|&i| self.nodes[i].key == key)
    }

    /// The node at `path` from the top level.
    fn at(&self, path: &[&str]) -> Option<usize> {
        let mut cur = None;
        for key in path {
            cur = Some(self.child(cur, key)?);
        }
        cur
    }

    fn value(&self, parent: usize, path: &[&str]) -> Option<&str> {
        let mut cur = parent;
        for key in path {
            cur = self.child(Some(cur), key)?;
        }
        Some(self.nodes[cur].value.as_str())
    }

    /// Logical ids of the resources of type `ty`.
    fn resources(&self, ty: &str) -> Vec<(String, usize)> {
        let resources = self.at(&["Resources"]).expect("template has Resources");
        self.children(Some(resources))
            .filter(|&r| self.value(r, &["Type"]) == Some(ty))
            .map(|r| (self.nodes[r].key.clone(), r))
            .collect()
    }
}

fn template() -> Yaml {
    Yaml::parse(TEMPLATE)
}

/// (METHOD, path) → (function, line) of every HttpApi event in the template.
fn template_routes(y: &Yaml) -> BTreeMap<(String, String), Vec<(String, usize)>> {
    let mut routes: BTreeMap<(String, String), Vec<(String, usize)>> = BTreeMap::new();
    for (function, f) in y.resources("AWS::Serverless::Function") {
        let Some(events) = y
            .child(Some(f), "Properties")
            .and_then(|p| y.child(Some(p), "Events"))
        else {
            continue;
        };
        let sweeper = y.value(f, &["Properties", "Handler"]) == Some("sweep");
        for e in y.children(Some(events)) {
            let ty = y.value(e, &["Type"]).unwrap_or_default();
            if sweeper && ty == "Schedule" {
                continue;
            }
            assert_eq!(
                ty, "HttpApi",
                "{function}: event {} (line {}) must be an HttpApi event",
                y.nodes[e].key, y.nodes[e].line
            );
            let method = y.value(e, &["Properties", "Method"]);
            let path = y.value(e, &["Properties", "Path"]);
            let (Some(method), Some(path)) = (method, path) else {
                panic!(
                    "{function}: event {} (line {}) needs Properties.Method and Properties.Path",
                    y.nodes[e].key, y.nodes[e].line
                );
            };
            assert_eq!(
                y.value(e, &["Properties", "ApiId"]),
                Some("!Ref HttpApi"),
                "{function}: event {} must be on the stack's HttpApi",
                y.nodes[e].key
            );
            routes
                .entry((method.to_uppercase(), path.to_string()))
                .or_default()
                .push((function.clone(), y.nodes[e].line));
        }
    }
    routes
}

#[test]
fn every_route_of_the_router_is_routed_to_exactly_one_function() {
    let y = template();
    let routed = template_routes(&y);
    assert!(!routed.is_empty(), "the template routes nothing");
    let mut expected = BTreeSet::new();
    let mut embedded_only = BTreeSet::new();
    for (doc, _) in ward_backend::api::routes() {
        let key = (doc.method.to_uppercase(), doc.path.clone());
        if doc.access == Access::SignedUrl {
            embedded_only.insert(key);
        } else {
            expected.insert(key);
        }
    }
    let missing: Vec<_> = expected
        .iter()
        .filter(|r| !routed.contains_key(*r))
        .collect();
    assert!(
        missing.is_empty(),
        "routes the backend serves but infra/template.yaml does not route (add an HttpApi \
         event on the function whose role fits, see docs/deploy.md): {missing:?}"
    );
    for (route, at) in &routed {
        assert!(
            !embedded_only.contains(route),
            "{route:?} is embedded mode's blob endpoint; on AWS photos go to S3 (routed at {at:?})"
        );
        assert!(
            expected.contains(route),
            "{route:?} is routed by the template ({at:?}) but the Router has no such route"
        );
        assert_eq!(at.len(), 1, "{route:?} is routed more than once: {at:?}");
    }
}

/// The `WARD_*` string literals of `config.rs` (outside the `ENV_VARS` lists themselves).
fn vars_read_by_config() -> BTreeSet<String> {
    let code = CONFIG_RS
        .split("pub const ENV_VARS")
        .next()
        .unwrap_or_default()
        .to_string()
        + CONFIG_RS
            .split("impl Config")
            .nth(1)
            .expect("config.rs has impl Config");
    code.split('"')
        .skip(1)
        .step_by(2)
        .filter(|s| s.starts_with("WARD_"))
        .map(String::from)
        .collect()
}

#[test]
fn env_vars_lists_every_variable_config_reads() {
    let listed: BTreeSet<String> = ENV_VARS.iter().map(|s| s.to_string()).collect();
    assert_eq!(
        vars_read_by_config(),
        listed,
        "config::ENV_VARS must list exactly the WARD_* variables config.rs reads"
    );
    for v in LOCAL_ONLY_ENV_VARS {
        assert!(listed.contains(*v), "{v} is local-only but not in ENV_VARS");
    }
}

#[test]
fn every_variable_the_backend_reads_on_aws_is_set_by_the_template() {
    let y = template();
    let vars = y
        .at(&["Globals", "Function", "Environment", "Variables"])
        .expect("Globals.Function.Environment.Variables");
    let set: BTreeMap<String, String> = y
        .children(Some(vars))
        .map(|i| (y.nodes[i].key.clone(), y.nodes[i].value.clone()))
        .collect();
    for v in ENV_VARS {
        if LOCAL_ONLY_ENV_VARS.contains(v) {
            assert!(
                !set.contains_key(*v),
                "{v} is local-only: Lambda must not set it"
            );
        } else {
            assert!(set.contains_key(*v), "the template does not set {v}");
        }
    }
    for v in set.keys().filter(|k| k.starts_with("WARD_")) {
        assert!(
            ENV_VARS.contains(&v.as_str()),
            "the template sets {v}, which the backend does not read"
        );
    }
    assert_eq!(set.get("WARD_STORE").map(String::as_str), Some("aws"));
    // No function overrides the environment (every function reads the same configuration).
    for (function, f) in y.resources("AWS::Serverless::Function") {
        let props = y.child(Some(f), "Properties");
        assert!(
            props
                .and_then(|p| y.child(Some(p), "Environment"))
                .is_none(),
            "{function} overrides Globals' environment"
        );
    }
}

/// The revocation sweeper runs on a schedule, as the handler `ward-lambda` recognises, with the
/// role that may use tenant keys (it rotates them).
#[test]
fn the_revocation_sweeper_is_scheduled_with_the_keys_role() {
    let y = template();
    let (_, f) = y
        .resources("AWS::Serverless::Function")
        .into_iter()
        .find(|(_, f)| y.value(*f, &["Properties", "Handler"]) == Some("sweep"))
        .expect("a function with Handler: sweep");
    assert_eq!(
        y.value(f, &["Properties", "Role"]),
        Some("!GetAtt KeysRole.Arn")
    );
    let events = y
        .at(&["Resources", "SweeperFunction", "Properties", "Events"])
        .expect("sweeper events");
    let e = y.children(Some(events)).next().expect("one event");
    assert_eq!(y.value(e, &["Type"]), Some("Schedule"));
    assert!(
        y.value(e, &["Properties", "Schedule"])
            .is_some_and(|s| s.contains("rate(")),
        "a rate schedule"
    );
    let lambda = include_str!("../src/bin/ward-lambda.rs");
    assert!(
        lambda.contains(r#"std::env::var("_HANDLER").as_deref() == Ok("sweep")"#),
        "ward-lambda runs the sweep for handler `sweep`"
    );
}

#[test]
fn functions_are_the_ward_lambda_binary_on_arm64_al2023() {
    let y = template();
    let globals = y.at(&["Globals", "Function"]).expect("Globals.Function");
    assert_eq!(y.value(globals, &["Runtime"]), Some("provided.al2023"));
    assert_eq!(y.value(globals, &["Architectures"]), Some("[arm64]"));
    let functions = y.resources("AWS::Serverless::Function");
    assert!(!functions.is_empty());
    for (function, f) in functions {
        assert_eq!(
            y.value(f, &["Metadata", "BuildMethod"]),
            Some("rust-cargolambda"),
            "{function}"
        );
        assert_eq!(
            y.value(f, &["Metadata", "BuildProperties", "Binary"]),
            Some("ward-lambda"),
            "{function}"
        );
    }
}

/// The value of `pub(super) const NAME: &str = "value";` in `src`.
fn const_str(src: &str, name: &str) -> String {
    let at = src
        .find(&format!("const {name}: &str = \""))
        .unwrap_or_else(|| panic!("const {name} not found"));
    let rest = &src[at..];
    rest.split('"').nth(1).unwrap().to_string()
}

#[test]
fn the_table_matches_the_dynamodb_adapter() {
    let y = template();
    let tables = y.resources("AWS::DynamoDB::Table");
    assert_eq!(tables.len(), 1, "one table");
    let (_, t) = &tables[0];
    let props = y.child(Some(*t), "Properties").unwrap();
    let keys: Vec<(String, String)> = y
        .children(y.child(Some(props), "KeySchema"))
        .map(|item| {
            (
                y.value(item, &["AttributeName"]).unwrap().to_string(),
                y.value(item, &["KeyType"]).unwrap().to_string(),
            )
        })
        .collect();
    let (pk, sk) = (const_str(TABLE_RS, "PK"), const_str(TABLE_RS, "SK"));
    assert_eq!(
        keys,
        vec![(pk, "HASH".to_string()), (sk, "RANGE".to_string())]
    );
    let gsis: Vec<usize> = y
        .children(y.child(Some(props), "GlobalSecondaryIndexes"))
        .collect();
    assert_eq!(gsis.len(), 1);
    assert_eq!(
        y.value(gsis[0], &["IndexName"]),
        Some(const_str(TABLE_RS, "TENANTS_INDEX").as_str())
    );
    let gsi_keys: Vec<String> = y
        .children(y.child(Some(gsis[0]), "KeySchema"))
        .map(|item| y.value(item, &["AttributeName"]).unwrap().to_string())
        .collect();
    assert_eq!(
        gsi_keys,
        vec![const_str(TABLE_RS, "GSI_PK"), const_str(TABLE_RS, "GSI_SK")]
    );
    assert_eq!(
        y.value(props, &["TimeToLiveSpecification", "AttributeName"]),
        Some(const_str(TABLE_RS, "TTL").as_str())
    );
    assert_eq!(
        y.value(props, &["TimeToLiveSpecification", "Enabled"]),
        Some("true")
    );
    assert_eq!(
        y.value(
            props,
            &[
                "PointInTimeRecoverySpecification",
                "PointInTimeRecoveryEnabled"
            ]
        ),
        Some("true")
    );
    assert_eq!(y.value(props, &["DeletionProtectionEnabled"]), Some("true"));
}

#[test]
fn kms_conditions_name_the_adapters_tenant_tag_and_context() {
    let tag = ward_backend::store::aws::TENANT_TAG;
    let context = const_str(KMS_RS, "CONTEXT_KEY");
    for needle in [
        format!("\"aws:ResourceTag/{tag}\""),
        format!("\"aws:RequestTag/{tag}\""),
        format!("aws:TagKeys: [\"{tag}\"]"),
        format!("kms:EncryptionContext:{context}: \"${{aws:ResourceTag/{tag}}}\""),
        format!("kms:EncryptionContextKeys: [{context}, purpose, epoch]"),
    ] {
        assert!(
            TEMPLATE.contains(&needle),
            "infra/template.yaml should contain {needle}"
        );
    }
}

/// The unauthenticated ceremony routes have a gateway throttle of their own.
#[test]
fn ceremony_routes_have_their_own_gateway_throttle() {
    for route in [
        "POST /v1/tenants/{tenant}/enroll/start",
        "POST /v1/tenants/{tenant}/enroll/finish",
        "POST /v1/tenants/{tenant}/login/start",
        "POST /v1/tenants/{tenant}/login/finish",
    ] {
        let line = TEMPLATE
            .lines()
            .find(|l| l.trim_start().starts_with(&format!("\"{route}\":")))
            .unwrap_or_else(|| panic!("no RouteSettings entry for {route}"));
        assert!(line.contains("ceremony_throttle"), "{line}");
    }
    assert!(TEMPLATE.contains("ThrottlingRateLimit: !Ref CeremonyThrottleRate"));
}
