//! Generation behaviour on the built-in tiny model (random weights, real
//! Llama 2 tokenizer): the cached loop equals recomputing from scratch,
//! seeds reproduce, stop strings, token budgets, cancellation, end-of-
//! generation tokens and session prefix reuse.

use std::ops::ControlFlow;

use ferrite_engine::{
    argmax, default_model, perplexity, Engine, FinishReason, GenerateOptions, SamplingParams,
};
use ferrite_models::Logits;

fn engine() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    default_model::write(dir.path()).unwrap();
    let engine = Engine::builder().model(dir.path()).build().unwrap();
    (dir, engine)
}

fn greedy(max_tokens: usize) -> GenerateOptions {
    GenerateOptions {
        max_tokens,
        sampling: SamplingParams::greedy(),
        ..GenerateOptions::default()
    }
}

#[test]
fn cached_greedy_generation_equals_recomputing_every_step() {
    let (_d, engine) = engine();
    let prompt = engine.encode_prompt("The quick brown fox").unwrap();
    let out = engine
        .generate_tokens(&mut engine.new_session(), &prompt, &greedy(12), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(out.tokens.len(), 12);
    assert_eq!(out.finish, FinishReason::Length);
    let model = engine.model();
    let mut seq = prompt.clone();
    for &want in &out.tokens {
        let mut cache = model.new_cache();
        let logits = model.forward(&seq, &mut cache, Logits::Last).unwrap();
        let next = argmax(&logits.to_vec::<f32>().unwrap());
        assert_eq!(next, want, "step {} differs", seq.len() - prompt.len());
        seq.push(next);
    }
    assert_eq!(
        out.text,
        engine.tokenizer().decode(&out.tokens, true).unwrap()
    );
}

#[test]
fn seeds_reproduce_and_streaming_concatenates_to_the_text() {
    let (_d, engine) = engine();
    let opts = |seed| GenerateOptions {
        max_tokens: 24,
        sampling: SamplingParams {
            temperature: 1.0,
            seed,
            ..SamplingParams::default()
        },
        ..GenerateOptions::default()
    };
    let a = engine.generate("Hello", &opts(5)).unwrap();
    let mut pieces = String::new();
    let b = engine
        .generate_stream("Hello", &opts(5), |p| {
            pieces.push_str(p);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(a.tokens, b.tokens);
    assert_eq!(pieces, b.text);
    let c = engine.generate("Hello", &opts(6)).unwrap();
    assert_ne!(
        a.tokens, c.tokens,
        "different seeds gave the same 24 tokens"
    );
}

#[test]
fn stop_strings_end_the_text_before_them() {
    let (_d, engine) = engine();
    let full = engine.generate("Hello", &greedy(30)).unwrap();
    let chars: Vec<char> = full.text.chars().collect();
    assert!(chars.len() > 12, "{:?}", full.text);
    let stop: String = chars[8..11].iter().collect();
    let cut = full.text.find(&stop).unwrap();
    let opts = GenerateOptions {
        stop: vec![stop.clone()],
        ..greedy(30)
    };
    let mut shown = String::new();
    let out = engine
        .generate_stream("Hello", &opts, |p| {
            shown.push_str(p);
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(out.finish, FinishReason::Stop);
    assert_eq!(out.text, full.text[..cut]);
    assert_eq!(
        shown, out.text,
        "part of the stop string {stop:?} was streamed"
    );
}

#[test]
fn cancellation_and_end_of_generation() {
    let (dir, engine) = engine();
    let mut calls = 0;
    let out = engine
        .generate_stream("Hello", &greedy(50), |p| {
            calls += !p.is_empty() as usize;
            if calls == 3 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
    assert_eq!(out.finish, FinishReason::Cancelled);
    assert!(out.tokens.len() < 50);

    // Declare the first greedy token an end-of-generation id: generation stops at once.
    let first = engine.generate("Hello", &greedy(1)).unwrap().tokens[0];
    let cfg_path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["eos_token_id"] = serde_json::json!([2, first]);
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let engine = Engine::builder().model(dir.path()).build().unwrap();
    let out = engine.generate("Hello", &greedy(10)).unwrap();
    assert_eq!(out.finish, FinishReason::Eos);
    assert!(out.tokens.is_empty() && out.text.is_empty());
    let past = engine
        .generate(
            "Hello",
            &GenerateOptions {
                ignore_eos: true,
                ..greedy(3)
            },
        )
        .unwrap();
    assert_eq!(past.tokens.len(), 3);
}

#[test]
fn a_session_reuses_its_prefix_and_matches_a_fresh_run() {
    let (_d, engine) = engine();
    let first = engine.encode_prompt("One two three").unwrap();
    let mut session = engine.new_session();
    let a = engine
        .generate_tokens(&mut session, &first, &greedy(5), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    // The follow-up extends what the session holds (prompt + answer).
    let mut follow = first.clone();
    follow.extend(&a.tokens);
    follow.extend(
        engine
            .tokenizer()
            .encode(" four five", false, false)
            .unwrap(),
    );
    let b = engine
        .generate_tokens(&mut session, &follow, &greedy(6), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    let reused = follow.len() - b.stats.prompt_tokens;
    assert!(
        reused >= first.len() + a.tokens.len() - 1,
        "reused only {reused} tokens"
    );
    let fresh = engine
        .generate_tokens(&mut engine.new_session(), &follow, &greedy(6), |_| {
            ControlFlow::Continue(())
        })
        .unwrap();
    assert_eq!(b.tokens, fresh.tokens);
}

#[test]
fn bad_requests_are_errors() {
    let (_d, engine) = engine();
    let long = vec![1u32; engine.context_length()];
    let err = engine
        .generate_tokens(&mut engine.new_session(), &long, &greedy(1), |_| {
            ControlFlow::Continue(())
        })
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("context holds"), "{err}");
    let bad = GenerateOptions {
        sampling: SamplingParams {
            top_p: 2.0,
            ..SamplingParams::default()
        },
        ..GenerateOptions::default()
    };
    assert!(engine
        .generate("x", &bad)
        .err()
        .unwrap()
        .to_string()
        .contains("top_p"));
    let empty = engine
        .generate_tokens(&mut engine.new_session(), &[], &greedy(1), |_| {
            ControlFlow::Continue(())
        })
        .err()
        .unwrap()
        .to_string();
    assert!(empty.contains("no tokens"), "{empty}");
    // Perplexity: a chunk too small, a chunk past the model's context.
    let ids = vec![1u32; 2048];
    let (model, tok) = (engine.model(), engine.tokenizer());
    let small = perplexity(model, tok, &ids, 2, None, |_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(small.contains("--ctx 2 is too small"), "{small}");
    let big = perplexity(model, tok, &ids, 1024, None, |_, _| {})
        .err()
        .unwrap()
        .to_string();
    assert!(
        big.contains("--ctx 1024 exceeds the model's context of 512"),
        "{big}"
    );
}

#[test]
fn a_directory_without_a_tokenizer_is_named() {
    let (dir, _) = engine();
    std::fs::remove_file(dir.path().join("tokenizer.json")).unwrap();
    let err = Engine::builder()
        .model(dir.path())
        .build()
        .err()
        .unwrap()
        .to_string();
    assert!(
        err.contains("no tokenizer.json in the model directory"),
        "{err}"
    );
    let err = Engine::builder().build().err().unwrap().to_string();
    assert!(err.contains("no model given"), "{err}");
}

#[test]
fn a_bad_generation_config_value_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    default_model::write(dir.path()).unwrap();
    std::fs::write(
        dir.path().join("generation_config.json"),
        r#"{"do_sample": true, "temperature": -1}"#,
    )
    .unwrap();
    let err = Engine::builder()
        .model(dir.path())
        .build()
        .err()
        .expect("a negative temperature must not load")
        .to_string();
    assert!(
        err.contains("generation_config.json") && err.contains("temperature"),
        "{err}"
    );
}

#[test]
fn the_callback_can_stop_at_a_token_that_shows_no_text() {
    // A stop string that the whole answer is a prefix of holds every piece
    // back: no token shows text, yet the caller (Ctrl-C in `chat`) must be
    // able to stop after the first one.
    let (_d, engine) = engine();
    let full = engine.generate("Hello", &greedy(12)).unwrap();
    assert_eq!(full.tokens.len(), 12, "{:?}", full.finish);
    let opts = GenerateOptions {
        stop: vec![format!("{}\u{1}", full.text)],
        ..greedy(12)
    };
    let out = engine
        .generate_stream("Hello", &opts, |_| ControlFlow::Break(()))
        .unwrap();
    assert_eq!(out.finish, FinishReason::Cancelled);
    assert_eq!(out.tokens, full.tokens[..1]);
}
