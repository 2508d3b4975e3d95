//! Malformed vocabularies fail with clear errors; special-token handling;
//! the GGUF export round-trips.

mod common;

use ferrite_formats::gguf::{Value, ValueArray};
use ferrite_tokenizer::{Error, Tokenizer};

fn strings(v: &[&str]) -> Value {
    Value::Array(ValueArray::String(
        v.iter().map(|s| s.to_string()).collect(),
    ))
}

/// A tiny byte-level BPE vocabulary: the GPT-2 characters of "ab c" and two merges.
fn bpe_meta() -> Vec<(String, Value)> {
    let k = |s: &str| format!("tokenizer.ggml.{s}");
    vec![
        (k("model"), Value::String("gpt2".into())),
        (k("pre"), Value::String("gpt-2".into())),
        (
            k("tokens"),
            strings(&["a", "b", "ab", "Ġ", "c", "Ġc", "<|end|>"]),
        ),
        (
            k("token_type"),
            Value::Array(ValueArray::I32(vec![1, 1, 1, 1, 1, 1, 3])),
        ),
        (k("merges"), strings(&["a b", "Ġ c"])),
        (k("eos_token_id"), Value::U32(6)),
        (k("bos_token_id"), Value::U32(6)),
    ]
}

fn with(mut meta: Vec<(String, Value)>, key: &str, v: Value) -> Vec<(String, Value)> {
    let key = format!("tokenizer.ggml.{key}");
    meta.retain(|(k, _)| *k != key);
    meta.push((key, v));
    meta
}

fn message(r: Result<Tokenizer, Error>) -> String {
    match r {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn tiny_bpe_encodes_and_parses_special_text() {
    let tok = Tokenizer::from_gguf_metadata(&bpe_meta()).unwrap();
    assert_eq!(tok.encode("ab c", false, false).unwrap(), [2, 5]);
    assert_eq!(tok.encode("ab<|end|>", false, true).unwrap(), [2, 6]);
    assert_eq!(tok.decode(&[2, 5, 6], true).unwrap(), "ab c");
    assert_eq!(tok.decode(&[2, 5, 6], false).unwrap(), "ab c<|end|>");
    assert!(tok.is_special(6) && !tok.is_special(2));
    assert!(tok.eos_ids().contains(&6));
    assert!(matches!(
        tok.decode(&[99], false),
        Err(Error::IdOutOfRange { id: 99, .. })
    ));
}

#[test]
fn malformed_vocabularies_are_clear_errors() {
    let m = message(Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "token_type",
        Value::Array(ValueArray::I32(vec![1, 1])),
    )));
    assert!(m.contains("token_type has 2 entries for 7 tokens"), "{m}");
    let m = message(Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "merges",
        strings(&["a zz"]),
    )));
    assert!(m.contains("\"zz\", which is not a token"), "{m}");
    let m = message(Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "merges",
        strings(&["ab"]),
    )));
    assert!(m.contains("not two tokens"), "{m}");
    let dup = with(bpe_meta(), "tokens", strings(&["a", "a"]));
    let dup = with(dup, "token_type", Value::Array(ValueArray::I32(vec![1, 1])));
    let m = message(Tokenizer::from_gguf_metadata(&dup));
    assert!(m.contains("duplicate token"), "{m}");
    let m = message(Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "model",
        Value::String("t5".into()),
    )));
    assert!(m.contains("not supported"), "{m}");
    let m = message(Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "tokens",
        Value::U32(3),
    )));
    assert!(m.contains("must be an array"), "{m}");
    let no_bos: Vec<_> = with(bpe_meta(), "add_bos_token", Value::Bool(true))
        .into_iter()
        .filter(|(k, _)| k != "tokenizer.ggml.bos_token_id")
        .collect();
    // The gpt2 default BOS (11) is outside this 7-token vocabulary.
    let m = message(Tokenizer::from_gguf_metadata(&no_bos));
    assert!(m.contains("no BOS token"), "{m}");
}

#[test]
fn unknown_pre_tokenizer_falls_back_to_gpt2() {
    let tok = Tokenizer::from_gguf_metadata(&with(
        bpe_meta(),
        "pre",
        Value::String("no-such-pre".into()),
    ))
    .unwrap();
    assert_eq!(tok.pre_tokenizer(), Some("gpt-2"));
}

#[test]
fn encode_prompt_never_doubles_bos() {
    let tok = common::gguf_vocab("llama-bpe");
    let bos = tok.bos_id().unwrap();
    let eot = tok.id_of("<|eot_id|>").unwrap();
    let templated = tok
        .encode_prompt("<|begin_of_text|>Hi<|eot_id|>", true)
        .unwrap();
    assert_eq!(templated.iter().filter(|&&i| i == bos).count(), 1);
    assert_eq!(templated.first(), Some(&bos));
    assert_eq!(templated.last(), Some(&eot));
    let plain = tok.encode_prompt("Hi", true).unwrap();
    assert_eq!(plain.first(), Some(&bos));
    assert_eq!(&plain[1..], &tok.encode("Hi", false, false).unwrap()[..]);
    assert_eq!(
        tok.encode_prompt("Hi", false).unwrap(),
        tok.encode("Hi", false, false).unwrap()
    );
    // Without parse_special the same text is ordinary characters.
    assert!(!tok
        .encode("<|eot_id|>", false, false)
        .unwrap()
        .contains(&eot));
    assert!(tok.eos_ids().contains(&eot));
}

#[test]
fn gguf_export_round_trips_every_vocab() {
    for name in ["llama-spm", "phi-3", "gpt-2", "llama-bpe", "qwen2"] {
        let tok = common::gguf_vocab(name);
        let again = Tokenizer::from_gguf_metadata(&tok.gguf_metadata()).unwrap();
        let text = "Hello  world!\n\tI'm 123456 🦙 naïve <|im_end|> <s>";
        for (a, p) in [(false, false), (true, true)] {
            assert_eq!(
                tok.encode(text, a, p).unwrap(),
                again.encode(text, a, p).unwrap(),
                "{name}"
            );
        }
        assert_eq!(tok.bos_id(), again.bos_id());
        assert_eq!(tok.eos_id(), again.eos_id());
    }
}

/// Converting the shared tokenizer.json files gives the vocabulary llama.cpp's
/// converter made for its own test files (Llama 2 → llama-spm, with
/// tokenizer.model's scores; Llama 3 → llama-bpe).
#[test]
fn conversion_matches_llama_cpp_vocab_files() {
    for (json, vocab) in [("llama2", "llama-spm"), ("llama3", "llama-bpe")] {
        let converted = Tokenizer::from_tokenizer_json(common::tokenizer_json(json))
            .unwrap()
            .gguf_metadata();
        let path = common::shared().join(format!("vocab/ggml-vocab-{vocab}.gguf"));
        let reference = ferrite_formats::Gguf::open(path).unwrap();
        for key in [
            "model",
            "pre",
            "tokens",
            "scores",
            "token_type",
            "merges",
            "bos_token_id",
            "eos_token_id",
        ] {
            let key = format!("tokenizer.ggml.{key}");
            let ours = converted.iter().find(|(k, _)| *k == key).map(|(_, v)| v);
            let theirs = reference.get(&key);
            let same = match (ours, theirs) {
                (Some(a), Some(b)) => a.as_u64().zip(b.as_u64()).map_or(a == b, |(x, y)| x == y),
                (a, b) => a.is_none() && b.is_none(),
            };
            assert!(same, "{json} → {key} differs from ggml-vocab-{vocab}.gguf");
        }
    }
}

/// tokenizer_config.json and generation_config.json beside a tokenizer.json
/// set the special tokens and whether BOS/EOS are added.
#[test]
fn sibling_configs_set_special_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("tokenizer.json");
    std::fs::copy(common::tokenizer_json("llama2"), &json).unwrap();
    std::fs::write(
        dir.path().join("tokenizer_config.json"),
        r#"{"bos_token": {"content": "<s>", "lstrip": false}, "eos_token": "</s>", "add_bos_token": true, "add_eos_token": true}"#,
    )
    .unwrap();
    std::fs::write(
        dir.path().join("generation_config.json"),
        r#"{"eos_token_id": [2, 13]}"#,
    )
    .unwrap();
    let tok = Tokenizer::from_tokenizer_json(&json).unwrap();
    assert_eq!((tok.bos_id(), tok.eos_id()), (Some(1), Some(2)));
    assert!(tok.adds_bos() && tok.adds_eos());
    assert!(tok.eos_ids().contains(&13));
    let ids = tok.encode("Hi", true, false).unwrap();
    assert_eq!((ids.first(), ids.last()), (Some(&1), Some(&2)));
    let gguf = Tokenizer::from_gguf_metadata(&tok.gguf_metadata()).unwrap();
    assert_eq!(gguf.encode("Hi", true, false).unwrap(), ids);

    // Without any config, Llama 3's post-processor names its BOS, and the
    // end-of-turn token is found by name.
    let l3 = Tokenizer::from_tokenizer_json(common::tokenizer_json("llama3")).unwrap();
    assert_eq!(l3.bos_id(), Some(128000));
    assert!(l3.adds_bos() && !l3.adds_eos());
    assert!(l3.eos_ids().contains(&128009) && l3.eos_ids().contains(&128001));
    assert_eq!(l3.pre_tokenizer(), Some("llama-bpe"));
}

#[test]
fn tokenizer_is_shareable_across_threads() {
    fn send_sync<T: Send + Sync>() {}
    send_sync::<Tokenizer>();
}
