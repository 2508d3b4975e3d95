//! Loading templates from model directories, and the errors a user sees.

use ferrite_chat::{ChatTemplate, Error, Json, ModelTemplates, RenderArgs};
use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

const SIMPLE: &str = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{% endfor %}{{ eos_token }}";

fn write(dir: &Path, name: &str, text: &str) {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn user(text: &str) -> Json {
    Json::from(serde_json::json!([{"role": "user", "content": text}]))
}

#[test]
fn a_model_without_a_template_says_so() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "tokenizer_config.json",
        r#"{"bos_token": "<s>"}"#,
    );
    let model = ModelTemplates::from_hf_dir(dir.path()).unwrap();
    let err = model.select(false).unwrap_err();
    assert!(matches!(err, Error::NoTemplate));
    assert_eq!(
        err.to_string(),
        "this model has no chat template; pass --template FILE or use plain prompts"
    );
    // No tokenizer_config.json at all is the same: nothing to chat with.
    let empty = tempfile::tempdir().unwrap();
    let model = ModelTemplates::from_hf_dir(empty.path()).unwrap();
    assert!(matches!(model.select(true), Err(Error::NoTemplate)));
}

#[test]
fn special_tokens_may_be_added_token_objects() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "bos_token": {"__type": "AddedToken", "content": "<s>", "special": true},
        "eos_token": "</s>",
        "pad_token": null,
        "unk_token": {"content": "<unk>"},
        "chat_template": SIMPLE,
    });
    write(dir.path(), "tokenizer_config.json", &config.to_string());
    let model = ModelTemplates::from_hf_dir(dir.path()).unwrap();
    assert_eq!(
        model.special_tokens.get("bos_token").map(String::as_str),
        Some("<s>")
    );
    assert_eq!(
        model.special_tokens.get("unk_token").map(String::as_str),
        Some("<unk>")
    );
    assert!(!model.special_tokens.contains_key("pad_token"));
    let out = model
        .select(false)
        .unwrap()
        .render(&model.args(user("hi")))
        .unwrap();
    assert_eq!(out, "<s>[user]hi</s>");
}

#[test]
fn named_templates_and_files() {
    let dir = tempfile::tempdir().unwrap();
    let config = serde_json::json!({
        "chat_template": [
            {"name": "default", "template": "D"},
            {"name": "tool_use", "template": "T{{ tools | length }}"},
        ],
    });
    write(dir.path(), "tokenizer_config.json", &config.to_string());
    let model = ModelTemplates::from_hf_dir(dir.path()).unwrap();
    let mut args = RenderArgs::new(user("x"));
    assert_eq!(model.select(false).unwrap().render(&args).unwrap(), "D");
    args.tools = Some(Json::parse("[{}, {}]").unwrap());
    assert_eq!(model.select(true).unwrap().render(&args).unwrap(), "T2");
    let err = model.named("rag").unwrap_err().to_string();
    assert!(
        err.contains("\"rag\"") && err.contains("default, tool_use"),
        "{err}"
    );

    // chat_template.jinja and additional_chat_templates/ replace the config's.
    write(dir.path(), "chat_template.jinja", "F");
    write(dir.path(), "additional_chat_templates/rag.jinja", "R");
    let model = ModelTemplates::from_hf_dir(dir.path()).unwrap();
    assert_eq!(model.select(true).unwrap().render(&args).unwrap(), "F");
    assert_eq!(model.named("rag").unwrap().render(&args).unwrap(), "R");
    assert!(model.named("tool_use").is_err());
}

#[test]
fn a_broken_config_names_its_file() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "tokenizer_config.json", "{not json");
    let err = ModelTemplates::from_hf_dir(dir.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("tokenizer_config.json") && err.contains("not valid JSON"),
        "{err}"
    );
    write(
        dir.path(),
        "tokenizer_config.json",
        r#"{"chat_template": 3}"#,
    );
    let err = ModelTemplates::from_hf_dir(dir.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("chat_template must be"), "{err}");
}

#[test]
fn syntax_errors_name_the_template_and_line() {
    let err = ChatTemplate::with_name("mine.jinja", "line one\n{% if x %}\n{{ x }\n").unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, Error::Syntax { .. }));
    assert!(
        text.contains("mine.jinja") && text.contains("line 3"),
        "{text}"
    );
    let model_err = {
        let dir = tempfile::tempdir().unwrap();
        write(
            dir.path(),
            "tokenizer_config.json",
            r#"{"chat_template": "{% for %}"}"#,
        );
        ModelTemplates::from_hf_dir(dir.path())
            .unwrap_err()
            .to_string()
    };
    assert!(
        model_err.contains("\"default\" does not compile"),
        "{model_err}"
    );
}

#[test]
fn raise_exception_surfaces_its_message() {
    let t = ChatTemplate::new(
        "{% for m in messages %}{% if m.role != 'user' %}\
         {{ raise_exception('Only user messages, got ' + m.role) }}{% endif %}{% endfor %}",
    )
    .unwrap();
    let args = RenderArgs::new(Json::parse(r#"[{"role": "system", "content": "s"}]"#).unwrap());
    let err = t.render(&args).unwrap_err();
    assert!(
        matches!(&err, Error::Raised { message, .. } if message == "Only user messages, got system")
    );
    assert_eq!(err.to_string(), "Only user messages, got system");
}

#[test]
fn render_errors_name_the_template_and_line() {
    let t = ChatTemplate::with_name("t", "ok\n{{ messages[0].content.nope.deeper }}").unwrap();
    let err = t
        .render(&RenderArgs::new(user("x")))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("chat template \"t\" failed") && err.contains("line 2"),
        "{err}"
    );
}

#[test]
fn bad_input_is_rejected_before_rendering() {
    let t = ChatTemplate::new(SIMPLE).unwrap();
    for (messages, want) in [
        ("[]", "empty conversation"),
        (r#"{"role": "user"}"#, "must be a list"),
        (r#"["hi"]"#, "should be dicts"),
    ] {
        let err = t
            .render(&RenderArgs::new(Json::parse(messages).unwrap()))
            .unwrap_err();
        assert!(
            matches!(err, Error::Input(_)) && err.to_string().contains(want),
            "{err}"
        );
    }
    assert!(Json::parse("[1,").is_err());
}

#[test]
fn extra_variables_override_and_null_keys_are_dropped() {
    let t = ChatTemplate::new(
        "{{ bos_token }}|{{ messages[0].content is defined }}|{{ enable_thinking }}|{{ strftime_now('%d %b %Y') }}",
    )
    .unwrap();
    let mut args =
        RenderArgs::new(Json::parse(r#"[{"role": "assistant", "content": null}]"#).unwrap());
    args.bos_token = Some("<s>".into());
    args.extra.insert("bos_token".into(), Json::from("<B>"));
    args.extra
        .insert("enable_thinking".into(), Json::from(false));
    args.now = Some(UNIX_EPOCH + Duration::from_secs(1_709_802_300));
    assert_eq!(t.render(&args).unwrap(), "<B>|False|False|07 Mar 2024");
}

#[test]
fn reasoning_is_copied_under_both_names() {
    // transformers fills `thinking` (gpt-oss) and `reasoning_content` (Qwen3) from either.
    let t = ChatTemplate::new("{{ messages[0].thinking }}/{{ messages[0].reasoning_content }}")
        .unwrap();
    let args =
        RenderArgs::new(Json::parse(r#"[{"role": "assistant", "reasoning": "r"}]"#).unwrap());
    assert_eq!(t.render(&args).unwrap(), "r/r");
}

#[test]
fn key_order_survives_into_tojson() {
    let t = ChatTemplate::new("{{ tools | tojson }}").unwrap();
    let mut args = RenderArgs::new(user("x"));
    args.tools = Some(Json::parse(r#"[{"z": 1, "a": {"y": 2.0, "b": "é"}}]"#).unwrap());
    assert_eq!(
        t.render(&args).unwrap(),
        r#"[{"z": 1, "a": {"y": 2.0, "b": "é"}}]"#
    );
}

#[test]
fn gguf_metadata_templates() {
    let model = ModelTemplates::from_gguf_metadata([
        ("general.name", "x"),
        ("tokenizer.chat_template", "D"),
        ("tokenizer.chat_template.tool_use", "T"),
    ])
    .unwrap();
    let args = RenderArgs::new(user("x"));
    assert_eq!(model.select(false).unwrap().render(&args).unwrap(), "D");
    assert_eq!(model.select(true).unwrap().render(&args).unwrap(), "T");
    let none = ModelTemplates::from_gguf_metadata([("general.name", "x")]).unwrap();
    assert!(matches!(none.select(false), Err(Error::NoTemplate)));
}

#[test]
fn a_template_cannot_ask_for_a_huge_indent() {
    let args = RenderArgs::new(user("x"));
    let ok = ChatTemplate::new("{{ 'a\nb' | indent(2) }}").unwrap();
    assert_eq!(ok.render(&args).unwrap(), "a\n  b");
    let huge = ChatTemplate::new("{{ 'a\nb' | indent(1000000000000) }}").unwrap();
    let err = huge.render(&args).unwrap_err().to_string();
    assert!(
        err.contains("indent width 1000000000000 is larger than 4096"),
        "{err}"
    );
}
