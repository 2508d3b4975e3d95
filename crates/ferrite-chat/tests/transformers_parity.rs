//! Every real template in ../shared/data/templates and the templates of the
//! generated models render byte for byte as transformers'
//! `apply_chat_template` renders them (python/chat_template_cases.py), over
//! conversations with and without a system message, several turns, unicode,
//! tools and tool calls, reasoning, documents and extra variables, with
//! `add_generation_prompt` off and on; every real template is compared with
//! and without a system message, each with and without the generation
//! prompt. A case that raises in Python raises here: with Python's message
//! when the template (`raise_exception`) or transformers raised it, with the
//! same kind of failure when Jinja2 or Python itself did (`same_failure`
//! states the rule).
//!
//! `strftime_now` is pinned on both sides to 2024-03-07 09:05:00 (the script
//! patches Python's clock, the test sets `RenderArgs::now`), so dated
//! templates (Llama 3.2, Mistral Small 3.2, Granite, gpt-oss) are checked in
//! full, on any day.
//!
//! Needs the venv from python/ensure_venv.sh; FERRITE_SKIP_PYTHON=1 skips it.
//! The cases are cached under target/ keyed by a hash of the script and the
//! templates.

use ferrite_chat::{ChatTemplate, Error, Json, ModelTemplates, RenderArgs};
use ferrite_testkit::{content_hash, python, repo_root, target_dir};
use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

/// 2024-03-07 09:05:00 UTC, the time chat_template_cases.py gives Python.
const FIXED_NOW: u64 = 1_709_802_300;

#[derive(Deserialize)]
struct Case {
    id: String,
    template: String,
    /// The template's text, for the snippets that probe one behaviour each.
    source: Option<String>,
    model: String,
    messages: String,
    tools: Option<String>,
    documents: Option<String>,
    kwargs: BTreeMap<String, String>,
    add_generation_prompt: bool,
    #[serde(default)]
    continue_final_message: Option<String>,
    expected: Option<String>,
    error: Option<String>,
    #[serde(default)]
    error_type: Option<String>,
    raised: bool,
}

fn templates_dir() -> PathBuf {
    repo_root().join("../shared/data/templates")
}

/// Runs the reference script unless its output for these inputs is cached.
fn cases_dir() -> PathBuf {
    let script = repo_root().join("python/chat_template_cases.py");
    let make_model = repo_root().join("../shared/tools/make_model.py");
    let mut inputs = vec![
        std::fs::read(&script).expect("read chat_template_cases.py"),
        std::fs::read(&make_model).expect("read ../shared/tools/make_model.py"),
        std::fs::read(repo_root().join("python/requirements.txt")).expect("read requirements.txt"),
    ];
    let mut names: Vec<PathBuf> = std::fs::read_dir(templates_dir())
        .expect("read ../shared/data/templates")
        .map(|e| e.expect("dir entry").path())
        .collect();
    names.sort();
    for path in &names {
        inputs.push(path.to_string_lossy().into_owned().into_bytes());
        inputs.push(std::fs::read(path).expect("read template"));
    }
    let hash = content_hash(inputs.iter().map(Vec::as_slice));
    let dir = target_dir().join(format!("chat-template-cases/{hash:016x}"));
    if !dir.join("cases.json").exists() {
        let out = python::run_script(Path::new("python/chat_template_cases.py"), &[&dir]);
        if let Err(e) = out {
            panic!("{e}");
        }
    }
    dir
}

fn json(text: &str, what: &str) -> Json {
    Json::parse(text).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// How a Ferrite error matched transformers' exception.
enum Agreement {
    /// The message is Python's.
    Message,
    /// The same kind of failure, named in Ferrite's words.
    Kind,
}

/// Whether Ferrite's error `e` reproduces transformers' exception `msg`.
///
/// The rule, as strict as the two engines allow:
///
/// * An exception the template raises itself (`raise_exception(msg)`, a bare
///   `TemplateError`): [`Error::Raised`] with exactly Python's message.
/// * transformers' own `ValueError`s (`continue_final_message` checks):
///   Ferrite's message contains Python's (first line).
/// * Failures of Jinja2 and of Python itself carry texts that name Python's
///   types and the expression's history, which minijinja does not keep
///   (Jinja2's `'dict object' has no attribute 'content'` is raised where the
///   undefined value is used, long after the lookup). For these Ferrite must
///   fail while rendering ([`Error::Render`], never a raise, an input error or
///   a compile error) with the same kind of failure:
///   - `UndefinedError` (`'x' is undefined`, `'dict object' has no attribute
///     'y'`): an undefined value was used, or, for an attribute called as a
///     method (`'list object' has no attribute 'startswith'`), that type has
///     no method of that name;
///   - `TypeError: 'NoneType' object is not iterable`: a value that is not
///     iterable was iterated;
///   - `TypeError: can only concatenate A (not "B") to A`: `+` was used on
///     the same two types, in the same order (`str`, `dict`, `list`, `int`
///     are minijinja's `string`, `map`, `sequence`, `number`).
/// * Any other exception is a failure of this test until it is given a rule.
fn same_failure(case: &Case, msg: &str, e: &Error) -> Result<Agreement, String> {
    if case.raised {
        return match e {
            Error::Raised { message, .. } if message == msg => Ok(Agreement::Message),
            Error::Raised { .. } => Err("a different message".into()),
            _ => Err("not raised by the template".into()),
        };
    }
    if let Some(why) = msg.strip_prefix("ValueError: continue_final_message") {
        let why = why.lines().next().unwrap_or_default();
        return if e.to_string().contains(why) {
            Ok(Agreement::Message)
        } else {
            Err("a different message".into())
        };
    }
    let Error::Render { message, .. } = e else {
        return Err("not a rendering failure".into());
    };
    let kind_name = |python: &str| {
        match python {
            "str" => "string",
            "dict" => "map",
            "list" => "sequence",
            "int" | "float" => "number",
            "NoneType" => "none",
            other => other,
        }
        .to_string()
    };
    let wanted = match case.error_type.as_deref() {
        Some("UndefinedError") => {
            // 'T object' has no attribute 'name', called as a method.
            let method = msg
                .strip_prefix('\'')
                .and_then(|m| m.split_once(" object' has no attribute '"))
                .map(|(ty, name)| (kind_name(ty), name.trim_end_matches('\'')));
            match method {
                Some((ty, name)) if !message.contains("undefined") => {
                    format!("{ty} has no method named {name}")
                }
                _ => "undefined".to_string(),
            }
        }
        Some("TypeError") if msg.ends_with("object is not iterable") => "is not iterable".into(),
        Some("TypeError") if msg.starts_with("TypeError: can only concatenate ") => {
            // can only concatenate A (not "B") to A
            let rest = &msg["TypeError: can only concatenate ".len()..];
            let parsed = rest
                .split_once(" (not \"")
                .and_then(|(a, rest)| Some((a, rest.split_once('"')?.0)));
            match parsed {
                Some((a, b)) => format!(
                    "+ operator on unsupported types {} and {}",
                    kind_name(a),
                    kind_name(b)
                ),
                None => return Err("an unexpected TypeError text; give it a rule".into()),
            }
        }
        other => {
            return Err(format!(
                "no rule for Python's {other:?} errors; add one to same_failure"
            ))
        }
    };
    if message.contains(&wanted) {
        Ok(Agreement::Kind)
    } else {
        Err(format!("expected a failure saying {wanted:?}"))
    }
}

#[test]
fn templates_render_as_transformers_does() {
    if python::skip_requested() {
        eprintln!("FERRITE_SKIP_PYTHON=1: skipping the chat template parity test");
        return;
    }
    let dir = cases_dir();
    let text = std::fs::read_to_string(dir.join("cases.json")).expect("read cases.json");
    let cases: Vec<Case> = serde_json::from_str(&text).expect("parse cases.json");

    let mut models: HashMap<String, ModelTemplates> = HashMap::new();
    let mut templates: HashMap<String, ChatTemplate> = HashMap::new();
    let mut failures = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    let mut compared = std::collections::BTreeSet::new();
    let (mut identical, mut same_message, mut same_kind) = (0, 0, 0);
    for case in &cases {
        let model = models.entry(case.model.clone()).or_insert_with(|| {
            ModelTemplates::from_hf_dir(&dir.join(&case.model)).expect("load generated model")
        });
        let template = if case.template == "model" {
            model
                .select(case.tools.is_some())
                .expect("generated model has a template")
        } else {
            templates.entry(case.template.clone()).or_insert_with(|| {
                let source = match &case.source {
                    Some(source) => source.clone(),
                    None => std::fs::read_to_string(templates_dir().join(&case.template))
                        .expect("read template"),
                };
                ChatTemplate::with_name(&case.template, &source)
                    .unwrap_or_else(|e| panic!("{}: {e}", case.template))
            })
        };
        seen.insert(format!("{}[{}]", case.template, case.model));
        let mut args: RenderArgs = model.args(json(&case.messages, &case.id));
        args.add_generation_prompt = case.add_generation_prompt;
        args.tools = case.tools.as_deref().map(|t| json(t, &case.id));
        args.documents = case.documents.as_deref().map(|t| json(t, &case.id));
        for (k, v) in &case.kwargs {
            args.extra.insert(k.clone(), json(v, &case.id));
        }
        args.now = Some(UNIX_EPOCH + Duration::from_secs(FIXED_NOW));
        args.continue_final_message = case.continue_final_message.clone();

        let got = template.render(&args);
        // (template, starts with a system message, add_generation_prompt)
        let coverage = (
            case.template.clone(),
            case.messages
                .trim_start()
                .starts_with(r#"[{"role": "system""#),
            case.add_generation_prompt,
        );
        match (&case.expected, &case.error, got) {
            (Some(want), _, Ok(got)) if *want == got => {
                identical += 1;
                compared.insert(coverage);
            }
            (Some(want), _, Ok(got)) => failures.push(format!(
                "{}: output differs at byte {}\n--- transformers\n{want}\n--- ferrite\n{got}",
                case.id,
                want.bytes()
                    .zip(got.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            )),
            (Some(_), _, Err(e)) => failures.push(format!("{}: ferrite failed: {e}", case.id)),
            (None, Some(msg), Ok(got)) => failures.push(format!(
                "{}: transformers raised {msg:?} but ferrite rendered:\n{got}",
                case.id
            )),
            (None, Some(msg), Err(e)) => match same_failure(case, msg, &e) {
                Ok(Agreement::Message) => {
                    same_message += 1;
                    compared.insert(coverage);
                }
                Ok(Agreement::Kind) => same_kind += 1,
                Err(why) => failures.push(format!(
                    "{}: transformers raised {msg:?}, ferrite failed with {e}: {why}",
                    case.id
                )),
            },
            (None, None, _) => failures.push(format!("{}: case has no outcome", case.id)),
        }
    }
    let real_names: Vec<String> = std::fs::read_dir(templates_dir())
        .expect("templates")
        .map(|e| {
            e.expect("dir entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    let real = real_names.len();
    // Each real template is compared (an identical rendering, or Python's own
    // message) with and without a system message, with and without the
    // generation prompt.
    let mut uncovered = Vec::new();
    for name in &real_names {
        for system in [false, true] {
            for gen in [false, true] {
                if !compared.contains(&(name.clone(), system, gen)) {
                    uncovered.push(format!(
                        "{name} (system message: {system}, add_generation_prompt: {gen})"
                    ));
                }
            }
        }
    }
    let snippets = seen.iter().filter(|t| t.starts_with("snippet:")).count();
    eprintln!(
        "{} cases over {} templates ({} real, 4 from model directories, {snippets} snippets): {identical} identical \
         renderings, {same_message} identical error messages, {same_kind} errors of the same kind \
         (Jinja's and Python's own), {} failed",
        cases.len(),
        seen.len(),
        real,
        failures.len()
    );
    assert!(
        seen.len() >= real + 4 + snippets,
        "every template has cases"
    );
    assert!(
        uncovered.is_empty(),
        "real templates never compared with transformers in these conditions:\n{}",
        uncovered.join("\n")
    );
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from transformers:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
