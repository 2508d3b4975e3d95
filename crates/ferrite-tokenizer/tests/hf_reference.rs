//! tokenizer.json encodings against the pinned Hugging Face `tokenizers`
//! package (python/tokenizer_cases.py) on a few thousand generated strings,
//! and the same strings through a GGUF written from `gguf_metadata()`.
//!
//! Needs the venv from python/ensure_venv.sh; only FERRITE_SKIP_PYTHON=1 skips it.

mod common;

use common::tokenizer_json as tokenizer_path;
use ferrite_formats::{Gguf, GgufWriter};
use ferrite_tokenizer::Tokenizer;
use serde_json::Value;

const SEED: u64 = 7;
const COUNT: usize = 3000;

fn ids(v: &Value) -> Vec<Vec<u32>> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|a| {
            a.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_u64().unwrap() as u32)
                .collect()
        })
        .collect()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// Collects mismatches; reports the first few of each kind and the counts.
#[derive(Default)]
struct Report {
    checked: usize,
    failures: Vec<String>,
}

impl Report {
    fn check<T: PartialEq + std::fmt::Debug>(&mut self, what: &str, input: &str, got: T, want: T) {
        self.checked += 1;
        if got != want {
            self.failures.push(format!(
                "{what} {input:?}\n   want {want:?}\n    got {got:?}"
            ));
        }
    }
}

fn stream(tok: &Tokenizer, ids: &[u32], skip: bool) -> String {
    let mut s = tok.stream_decoder(skip);
    let mut out = String::new();
    for &id in ids {
        out += &s.push(id).unwrap();
    }
    out + &s.finish()
}

fn via_gguf(tok: &Tokenizer) -> Tokenizer {
    let mut w = GgufWriter::new();
    for (k, v) in tok.gguf_metadata() {
        w.add_metadata(k, v);
    }
    let gguf = Gguf::from_bytes(w.to_bytes().unwrap()).unwrap();
    Tokenizer::from_gguf(&gguf).unwrap()
}

#[test]
fn tokenizer_json_matches_hf_tokenizers() {
    if ferrite_testkit::python::skip_requested() {
        eprintln!("FERRITE_SKIP_PYTHON=1: skipping");
        return;
    }
    // Llama 2 once more without its tokenizer.model beside it: the SentencePiece
    // scores of the exported GGUF then come from the merge order.
    let alone = tempfile::tempdir().unwrap();
    let alone_json = alone.path().join("tokenizer.json");
    std::fs::copy(tokenizer_path("llama2"), &alone_json).unwrap();
    let paths = [
        ("llama2", tokenizer_path("llama2")),
        ("llama3", tokenizer_path("llama3")),
        ("llama2-json-only", alone_json),
    ];
    let mut args = vec![SEED.to_string(), COUNT.to_string()];
    for (n, p) in &paths {
        args.push(format!("{n}={}", p.display()));
    }
    let out = ferrite_testkit::python::run_script("python/tokenizer_cases.py".as_ref(), &args)
        .unwrap_or_else(|e| panic!("{e}"));
    let reference: Value = serde_json::from_str(&out).unwrap();
    let strings = strs(&reference["strings"]);
    let mut hf = Report::default();
    let mut gguf = Report::default();
    for (name, path) in &paths {
        let r = &reference["tokenizers"][name];
        let (parsed, plain, with_special) =
            (ids(&r["parsed"]), ids(&r["plain"]), ids(&r["with_special"]));
        let (decoded, decoded_skip) = (strs(&r["decoded"]), strs(&r["decoded_skip"]));
        let tok = Tokenizer::from_tokenizer_json(path).unwrap();
        let native = via_gguf(&tok);
        for (i, s) in strings.iter().enumerate() {
            hf.check(
                &format!("{name} parse_special"),
                s,
                tok.encode(s, false, true).unwrap(),
                parsed[i].clone(),
            );
            hf.check(
                &format!("{name} plain"),
                s,
                tok.encode(s, false, false).unwrap(),
                plain[i].clone(),
            );
            hf.check(
                &format!("{name} add_special"),
                s,
                tok.encode(s, true, true).unwrap(),
                with_special[i].clone(),
            );
            hf.check(
                &format!("{name} decode"),
                s,
                tok.decode(&parsed[i], false).unwrap(),
                decoded[i].clone(),
            );
            hf.check(
                &format!("{name} decode skip"),
                s,
                tok.decode(&parsed[i], true).unwrap(),
                decoded_skip[i].clone(),
            );
            hf.check(
                &format!("{name} stream"),
                s,
                stream(&tok, &parsed[i], false),
                decoded[i].clone(),
            );
            hf.check(
                &format!("{name} stream skip"),
                s,
                stream(&tok, &parsed[i], true),
                decoded_skip[i].clone(),
            );
            gguf.check(
                &format!("{name} gguf plain"),
                s,
                native.encode(s, false, false).unwrap(),
                plain[i].clone(),
            );
            gguf.check(
                &format!("{name} gguf parse_special"),
                s,
                native.encode(s, false, true).unwrap(),
                parsed[i].clone(),
            );
            gguf.check(
                &format!("{name} gguf add_special"),
                s,
                native.encode(s, true, true).unwrap(),
                with_special[i].clone(),
            );
        }
    }
    for (label, r) in [("tokenizer.json", &hf), ("exported GGUF", &gguf)] {
        eprintln!(
            "{label}: {} of {} checks match",
            r.checked - r.failures.len(),
            r.checked
        );
    }
    let failures: Vec<&String> = hf.failures.iter().chain(&gguf.failures).collect();
    assert!(
        failures.is_empty(),
        "{} mismatches, the first:\n{}",
        failures.len(),
        failures
            .iter()
            .take(15)
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join("\n")
    );
}
