//! Every real template in ../shared/data/templates and the templates of the
//! generated models render byte for byte as transformers'
//! `apply_chat_template` renders them (python/chat_template_cases.py), over
//! conversations with and without a system message, several turns, unicode,
//! tools and tool calls, reasoning, documents and extra variables, with
//! `add_generation_prompt` off and on. A case that raises in Python raises
//! here; one raised by the template's `raise_exception` with the same message.
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
    let (mut identical, mut same_message, mut both_failed) = (0, 0, 0);
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
        match (&case.expected, &case.error, got) {
            (Some(want), _, Ok(got)) if *want == got => identical += 1,
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
            (None, Some(msg), Err(e)) => {
                if case.raised {
                    match &e {
                        Error::Raised { message, .. } if message == msg => same_message += 1,
                        _ => failures.push(format!(
                            "{}: transformers raised {msg:?}, ferrite failed with {e}",
                            case.id
                        )),
                    }
                } else if let Some(why) = msg.strip_prefix("ValueError: continue_final_message") {
                    // transformers' own checks of a prefill: the same words here.
                    let why = why.lines().next().unwrap_or_default();
                    if e.to_string().contains(why) {
                        same_message += 1;
                    } else {
                        failures.push(format!(
                            "{}: transformers said {msg:?}, ferrite {e}",
                            case.id
                        ));
                    }
                } else {
                    both_failed += 1;
                }
            }
            (None, None, _) => failures.push(format!("{}: case has no outcome", case.id)),
        }
    }
    let real = std::fs::read_dir(templates_dir())
        .expect("templates")
        .count();
    let snippets = seen.iter().filter(|t| t.starts_with("snippet:")).count();
    eprintln!(
        "{} cases over {} templates ({} real, 4 from model directories, {snippets} snippets): {identical} identical \
         renderings, {same_message} identical error messages, {both_failed} failing in both, {} failed",
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
        failures.is_empty(),
        "{} of {} cases differ from transformers:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n\n")
    );
}
