//! Every case of llama.cpp's vocabulary test files (`../shared/data/vocab`):
//! each `.inp` string encoded without BOS/EOS must give exactly its `.out` ids.

mod common;

use common::{gguf_vocab as load, VOCABS};

/// The test strings and expected ids of one vocabulary.
fn cases(name: &str) -> Vec<(String, Vec<u32>)> {
    let dir = common::shared().join("vocab");
    let inp = std::fs::read_to_string(dir.join(format!("ggml-vocab-{name}.gguf.inp")))
        .unwrap_or_else(|e| panic!("{name}.inp: {e}"));
    let out = std::fs::read_to_string(dir.join(format!("ggml-vocab-{name}.gguf.out")))
        .unwrap_or_else(|e| panic!("{name}.out: {e}"));
    let mut texts: Vec<String> = inp
        .split("\n__ggml_vocab_test__\n")
        .map(str::to_string)
        .collect();
    assert_eq!(
        texts.pop().as_deref(),
        Some(""),
        "{name}.inp must end with a separator"
    );
    let ids: Vec<Vec<u32>> = out
        .lines()
        .map(|l| l.split_whitespace().map(|t| t.parse().unwrap()).collect())
        .collect();
    assert_eq!(
        texts.len(),
        ids.len(),
        "{name}: .inp and .out disagree on the number of cases"
    );
    texts.into_iter().zip(ids).collect()
}

#[test]
fn every_vocab_case_matches_llama_cpp() {
    let mut failures = Vec::new();
    let mut total = 0;
    for name in VOCABS {
        let tok = load(name);
        for (text, want) in cases(name) {
            total += 1;
            let got = tok.encode(&text, false, false).unwrap();
            if got != want {
                failures.push(format!(
                    "{name} {text:?}\n   want {want:?}\n    got {got:?}"
                ));
            }
        }
    }
    eprintln!("{} of {total} vocab cases match", total - failures.len());
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Decoding the encoding gives the text back, where llama.cpp guarantees it:
/// vocabularies without the space clean-up, texts whose every byte has a token.
#[test]
fn decode_inverts_encode() {
    let mut failures = Vec::new();
    let mut checked = 0;
    for name in VOCABS {
        let tok = load(name);
        for (text, ids) in cases(name) {
            let back = tok.decode(&ids, false).unwrap();
            let cleaned = ["gpt-2", "starcoder", "llama-bpe"].contains(name);
            if cleaned
                && (text.contains(" '")
                    || text.contains(" ?")
                    || text.contains(" .")
                    || text.contains(" ,")
                    || text.contains(" !"))
            {
                continue;
            }
            checked += 1;
            if back != text {
                failures.push(format!("{name} {text:?} decoded as {back:?}"));
            }
        }
    }
    eprintln!("{checked} round trips checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
