//! `perplexity` equals the perplexity computed from mlx-lm's logits by the
//! same method (llama-perplexity's), on a generated model whose next-token
//! distribution is peaked (tied embeddings, small embedding scale), so a
//! wrong mask or rotation would move it far.

use std::path::Path;
use std::process::Command;

use ferrite_engine::{load_tokenizer, perplexity};
use ferrite_models::ModelSource;
use ferrite_testkit::{python, repo_root, target_dir};

const CTX: usize = 128;
const CHUNKS: usize = 3;
/// The bar: within 0.1%.
const REL_TOL: f64 = 1e-3;

#[test]
fn perplexity_matches_mlx_lm() {
    if python::skip_requested() {
        eprintln!("FERRITE_SKIP_PYTHON=1: skipping the mlx-lm perplexity comparison");
        return;
    }
    ferrite_cpu::install();
    let py = python::python().expect("python venv");
    let work = target_dir().join("ferrite-engine-tests/perplexity");
    let dir = work.join("model");
    let _ = std::fs::remove_dir_all(&dir);
    let shared = repo_root().join("../shared");
    let out = Command::new(py)
        .arg(shared.join("tools/make_model.py"))
        .args(["small"])
        .arg(&dir)
        .arg("--tokenizer-json")
        .arg(shared.join("data/tokenizers/llama2/tokenizer.json"))
        .args([
            "--dtype",
            "f32",
            "--embed-std",
            "0.1",
            "tie_word_embeddings=true",
        ])
        .output()
        .expect("run make_model.py");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let text = std::fs::read_to_string(shared.join("notes/what-users-ask.md")).expect("text");
    let source = ModelSource::open(&dir).unwrap();
    let tok = load_tokenizer(&source).unwrap();
    let model = source.load().unwrap().model;
    let ids = tok.encode(&text, true, false).unwrap();
    assert!(
        ids.len() >= CTX * CHUNKS,
        "text too short: {} tokens",
        ids.len()
    );
    let ours = perplexity(&model, &tok, &ids, CTX, Some(CHUNKS), |_, _| {}).unwrap();

    let ids_file = work.join("ids.txt");
    let list: Vec<String> = ids.iter().map(u32::to_string).collect();
    std::fs::write(&ids_file, list.join(" ")).unwrap();
    let bos = if tok.adds_bos() {
        tok.bos_id().map_or(-1, |b| b as i64)
    } else {
        -1
    };
    let reference = python::run_script(
        Path::new("python/mlx_perplexity.py"),
        &[
            dir.to_str().unwrap(),
            ids_file.to_str().unwrap(),
            &CTX.to_string(),
            &CHUNKS.to_string(),
            &bos.to_string(),
        ],
    )
    .expect("mlx reference");
    let reference: serde_json::Value = serde_json::from_str(reference.trim()).unwrap();
    let want = reference["perplexity"].as_f64().unwrap();
    let rel = (ours.perplexity - want).abs() / want;
    eprintln!(
        "perplexity: ferrite {:.6} mlx {want:.6} relative difference {rel:.2e} over {} tokens",
        ours.perplexity, ours.tokens
    );
    assert_eq!(ours.tokens, reference["tokens"].as_u64().unwrap() as usize);
    assert_eq!(ours.tokens, CHUNKS * (CTX - 1 - CTX / 2));
    assert!(
        rel <= REL_TOL,
        "perplexity {} vs mlx {want}: {rel:.2e}",
        ours.perplexity
    );
}
