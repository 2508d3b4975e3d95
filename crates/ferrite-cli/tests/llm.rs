//! The LLM commands end to end on the built-in tiny model (random weights,
//! Llama 2 tokenizer) and llama.cpp's vocabulary files: run, chat template,
//! tokenize, template, perplexity, bench, convert of a model directory, and
//! their errors.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};

use common::{fails, json, ok, shared, stderr, stdout, Home};

#[test]
fn run_streams_with_the_default_model_and_reports() {
    let home = Home::new();
    let o = home.ferrite(&["run", "Hello there", "-n", "8", "--temp", "0"]);
    let text = ok(&o);
    assert!(!text.trim().is_empty());
    let err = stderr(&o);
    assert!(
        err.contains("M parameters") && err.contains("KV cache per token"),
        "{err}"
    );
    assert!(
        err.contains("generated: 8 tokens") && err.contains("finish: Length"),
        "{err}"
    );
    // --ignore-eos reaches the engine (whose tests check that EOS is then passed over).
    let err = stderr(&home.ferrite(&["run", "Hi", "-n", "8", "--ignore-eos"]));
    assert!(err.contains("generated: 8 tokens"), "{err}");
    // Greedy is deterministic; a seed makes sampling deterministic.
    assert_eq!(
        text,
        ok(&home.ferrite(&["run", "Hello there", "-n", "8", "--temp", "0"]))
    );
    let a = ok(&home.ferrite(&["run", "Hi", "-n", "8", "--seed", "3", "--temp", "1"]));
    assert_eq!(
        a,
        ok(&home.ferrite(&["run", "Hi", "-n", "8", "--seed", "3", "--temp", "1"]))
    );
    let model = home.model();
    let shown = stderr(&home.ferrite(&[
        "run",
        model.to_str().unwrap(),
        "Hi",
        "--chat",
        "-n",
        "1",
        "--verbose-prompt",
    ]));
    assert!(
        shown.contains(r#"prompt text: "<|user|>\nHi</s>\n<|assistant|>\n""#),
        "{shown}"
    );
    assert!(shown.contains("prompt ids ("), "{shown}");
    let chat = home.ferrite(&[
        "run",
        model.to_str().unwrap(),
        "Hi",
        "--chat",
        "-n",
        "3",
        "--system",
        "Be brief",
    ]);
    assert!(stderr(&chat).contains("prompt: "), "{}", stderr(&chat));
    ok(&chat);
}

#[test]
fn template_prints_exactly_the_rendered_prompt() {
    let home = Home::new();
    let model = home.model();
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("m.json");
    std::fs::write(
        &msgs,
        r#"[{"role":"system","content":"S"},{"role":"user","content":"Hi"}]"#,
    )
    .unwrap();
    let m = model.to_str().unwrap();
    let out = ok(&home.ferrite(&["template", m, "--messages", msgs.to_str().unwrap()]));
    assert_eq!(out, "<|system|>\nS</s>\n<|user|>\nHi</s>\n<|assistant|>\n");
    let out = ok(&home.ferrite(&[
        "template",
        m,
        "--messages",
        msgs.to_str().unwrap(),
        "--no-generation-prompt",
    ]));
    assert_eq!(out, "<|system|>\nS</s>\n<|user|>\nHi</s>\n");
    std::fs::write(&msgs, "{\"messages\": 3").unwrap();
    fails(
        &home.ferrite(&["template", m, "--messages", msgs.to_str().unwrap()]),
        "not valid JSON",
    );
    std::fs::write(&msgs, r#"{"tools": []}"#).unwrap();
    fails(
        &home.ferrite(&["template", m, "--messages", msgs.to_str().unwrap()]),
        "has no \"messages\" list",
    );
    // Valid JSON of the wrong shape: the error names the file.
    for bad in [r#"{"messages": 3}"#, "[1, 2]"] {
        std::fs::write(&msgs, bad).unwrap();
        fails(
            &home.ferrite(&["template", m, "--messages", msgs.to_str().unwrap()]),
            "m.json: invalid chat input",
        );
    }
    // A model with no template: a clear error when asked to chat.
    let bare = dir.path().join("bare");
    std::fs::create_dir(&bare).unwrap();
    for f in ["config.json", "model.safetensors", "tokenizer.json"] {
        std::fs::copy(model.join(f), bare.join(f)).unwrap();
    }
    std::fs::write(&msgs, r#"[{"role":"user","content":"Hi"}]"#).unwrap();
    fails(
        &home.ferrite(&[
            "template",
            bare.to_str().unwrap(),
            "--messages",
            msgs.to_str().unwrap(),
        ]),
        "no chat template",
    );
    fails(
        &home.ferrite(&["run", bare.to_str().unwrap(), "Hi", "--chat"]),
        "no chat template",
    );
}

/// transformers' rendering of a `ferrite template` input, by
/// python/chat_template_cases.py's `--render` (the parity test's script and
/// venv); `None` when FERRITE_SKIP_PYTHON=1.
fn transformers_render(
    model: &Path,
    template: &Path,
    messages: &Path,
    gen: bool,
) -> Option<String> {
    if std::env::var_os("FERRITE_SKIP_PYTHON").is_some_and(|v| v == "1") {
        return None;
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let venv = Command::new("bash")
        .arg(root.join("python/ensure_venv.sh"))
        .output()
        .expect("run python/ensure_venv.sh");
    assert!(
        venv.status.success(),
        "python/ensure_venv.sh failed (FERRITE_SKIP_PYTHON=1 skips on purpose): {}",
        stderr(&venv)
    );
    let mut cmd = Command::new(stdout(&venv).trim());
    cmd.arg(root.join("python/chat_template_cases.py"))
        .arg("--render")
        .args([model, template, messages]);
    if !gen {
        cmd.arg("--no-generation-prompt");
    }
    let out: serde_json::Value = json(&cmd.output().expect("run chat_template_cases.py"));
    match out["expected"].as_str() {
        Some(text) => Some(text.to_string()),
        None => panic!(
            "transformers failed on {}: {}",
            template.display(),
            out["error"]
        ),
    }
}

#[test]
fn template_keeps_key_order_of_tools_as_transformers_does() {
    let home = Home::new();
    let model = home.model();
    let dir = tempfile::tempdir().unwrap();
    let msgs = dir.path().join("tools.json");
    // Keys out of alphabetical order at every level: the tool schema (type
    // before function, name before description, unit before city), messages
    // (role before content) and tool call arguments.
    std::fs::write(
        &msgs,
        r#"{"tools": [{"type": "function", "function": {"name": "get_weather", "description": "Get the weather.",
            "parameters": {"type": "object", "properties": {"unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "city": {"type": "string", "description": "The city"}}, "required": ["city"]}}}],
          "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Weather in Paris?"},
            {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "id": "a1B2c3D4e",
              "function": {"name": "get_weather", "arguments": {"unit": "celsius", "city": "Paris"}}}]},
            {"role": "tool", "tool_call_id": "a1B2c3D4e", "name": "get_weather", "content": "{\"temp\": 21}"}]}"#,
    )
    .unwrap();
    let templates = shared().join("data/templates");
    for (name, gen) in [
        ("Qwen-Qwen2.5-7B-Instruct.jinja", true),
        ("Qwen-Qwen2.5-7B-Instruct.jinja", false),
        ("meta-llama-Llama-3.1-8B-Instruct.jinja", true),
        ("mistralai-Mistral-Nemo-Instruct-2407.jinja", true),
    ] {
        let template = templates.join(name);
        let mut args = vec![
            "template",
            model.to_str().unwrap(),
            "--messages",
            msgs.to_str().unwrap(),
            "--template",
            template.to_str().unwrap(),
        ];
        if !gen {
            args.push("--no-generation-prompt");
        }
        let got = ok(&home.ferrite(&args));
        // Sorted keys would put "city" first.
        let (unit, city) = (got.find(r#""unit": {"#), got.find(r#""city": {"#));
        assert!(unit.is_some() && unit < city, "{name}: {got}");
        let Some(want) = transformers_render(&model, &template, &msgs, gen) else {
            eprintln!("FERRITE_SKIP_PYTHON=1: not comparing with transformers");
            return;
        };
        assert_eq!(got, want, "{name} (add_generation_prompt: {gen})");
    }
}

#[test]
fn chat_messages_reach_the_template_role_first() {
    let home = Home::new();
    let model = home.model();
    let dir = tempfile::tempdir().unwrap();
    let template = dir.path().join("t.jinja");
    std::fs::write(&template, "{{ messages | tojson }}").unwrap();
    let t = template.to_str().unwrap();
    let m = model.to_str().unwrap();
    let run = home.ferrite(&[
        "run",
        m,
        "Hi",
        "--chat",
        "--system",
        "S",
        "--template",
        t,
        "-n",
        "1",
        "--verbose-prompt",
    ]);
    ok(&run);
    let want = r#"[{"role": "system", "content": "S"}, {"role": "user", "content": "Hi"}]"#;
    assert!(
        stderr(&run).contains(&format!("prompt text: {want:?}")),
        "{}",
        stderr(&run)
    );
    let chat = home.chat(
        &model,
        &[
            "--system",
            "S",
            "--template",
            t,
            "-n",
            "1",
            "--verbose-prompt",
        ],
        b"Hi\nAgain\n/exit\n",
    );
    let err = stderr(&chat);
    assert!(chat.status.success(), "{err}");
    assert!(err.contains(&format!("prompt text: {want:?}")), "{err}");
    let second = r#"{"role": "user", "content": "Again"}]"#;
    assert!(
        err.contains(&format!("{:?}", second).trim_matches('"').to_string())
            && err.contains(r#"{\"role\": \"assistant\", \"content\": "#),
        "{err}"
    );
}

#[test]
fn tokenize_matches_llama_cpp_vocab_cases_and_ends_options_at_double_dash() {
    let home = Home::new();
    let vocab = shared().join("data/vocab");
    for name in ["llama-spm", "llama-bpe", "qwen2"] {
        let gguf = vocab.join(format!("ggml-vocab-{name}.gguf"));
        let inp =
            std::fs::read_to_string(vocab.join(format!("ggml-vocab-{name}.gguf.inp"))).unwrap();
        let out =
            std::fs::read_to_string(vocab.join(format!("ggml-vocab-{name}.gguf.out"))).unwrap();
        // The first few cases (each ends before "\n__ggml_vocab_test__\n").
        let cases: Vec<&str> = inp.split("\n__ggml_vocab_test__\n").collect();
        for (text, want) in cases.iter().zip(out.lines()).take(6) {
            let o = home.ferrite(&[
                "tokenize",
                "--json",
                "--no-bos",
                "--",
                gguf.to_str().unwrap(),
                text,
            ]);
            let ids: Vec<u64> = json(&o)["ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect();
            let want: Vec<u64> = want
                .split_whitespace()
                .map(|t| t.parse().unwrap())
                .collect();
            assert_eq!(ids, want, "{name}: {text:?}");
        }
    }
    let spm = vocab.join("ggml-vocab-llama-spm.gguf");
    let o = json(&home.ferrite(&["tokenize", "--json", "--", spm.to_str().unwrap(), "--text"]));
    assert_eq!(o["ids"][0], 1, "BOS first: {o}");
    assert_eq!(
        o["pieces"].as_array().unwrap().len(),
        o["ids"].as_array().unwrap().len()
    );
    let text = ok(&home.ferrite(&["tokenize", spm.to_str().unwrap(), "Hello"]));
    assert!(text.contains("->"), "{text}");
    fails(
        &home.ferrite(&["tokenize", "/nonexistent.gguf", "x"]),
        "/nonexistent.gguf",
    );
}

#[test]
fn perplexity_and_bench_print_json() {
    let home = Home::new();
    let model = home.model();
    let m = model.to_str().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = dir.path().join("t.txt");
    std::fs::write(
        &text,
        "The quick brown fox jumps over the lazy dog. ".repeat(20),
    )
    .unwrap();
    let t = text.to_str().unwrap();
    let p = json(&home.ferrite(&[
        "perplexity",
        m,
        "--file",
        t,
        "--ctx",
        "32",
        "--chunks",
        "2",
        "--json",
    ]));
    assert_eq!(p["tokens"], 2 * (32 - 1 - 16));
    assert!(p["perplexity"].as_f64().unwrap() > 1.0, "{p}");
    fails(
        &home.ferrite(&["perplexity", m, "--file", t, "--ctx", "400"]),
        "needs at least 800",
    );
    // No chunk scored would be a perplexity of NaN ("null") with status 0.
    fails(
        &home.ferrite(&["perplexity", m, "--file", t, "--ctx", "32", "--chunks", "0"]),
        "--chunks 0",
    );
    let b = json(&home.ferrite(&[
        "bench",
        m,
        "-p",
        "16",
        "-n",
        "4",
        "-r",
        "1",
        "--json",
        "--threads",
        "1",
        "--mmap",
    ]));
    assert_eq!(b["threads"], 1);
    assert_eq!(b["weights_in_memory"], false, "--mmap: {b}");
    assert!(
        b["pp_tokens_per_s"].as_f64().unwrap() > 0.0
            && b["tg_tokens_per_s"].as_f64().unwrap() > 0.0,
        "{b}"
    );
    // The weights' read rate before and after the one run, and the run's rate
    // against it: decode bytes x tokens/s / the faster reading.
    let reads: Vec<f64> = b["tg_read_gbs"][0]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g.as_f64().unwrap())
        .collect();
    assert!(reads.len() == 2 && reads.iter().all(|&g| g > 0.0), "{b}");
    let bytes = b["decode_weight_bytes"].as_f64().unwrap();
    let expected = b["tg_tokens_per_s"].as_f64().unwrap() * bytes / (reads[0].max(reads[1]) * 1e9);
    let fraction = b["tg_fraction_of_bound"].as_f64().unwrap();
    assert!((fraction - expected).abs() <= 1e-9 * expected, "{b}");
    let table = ok(&home.ferrite(&["bench", m, "-p", "8", "-n", "2", "-r", "1"]));
    assert!(
        table.contains("| pp8 |") && table.contains("| tg2 |"),
        "{table}"
    );
    assert!(
        table.contains("tg2: streamed its ") && table.contains("a plain read of them reached"),
        "{table}"
    );
    fails(
        &home.ferrite(&["bench", m, "-p", "100000"]),
        "exceeds the model's context",
    );
    fails(
        &home.ferrite(&["bench", m, "-r", "0"]),
        "--repetitions must be at least 1",
    );
}

#[test]
fn converted_gguf_generates_the_same_text() {
    let home = Home::new();
    let model = home.model();
    let dir = tempfile::tempdir().unwrap();
    // A second, named template travels as tokenizer.chat_template.tool_use.
    let tcfg_path = model.join("tokenizer_config.json");
    let mut tcfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&tcfg_path).unwrap()).unwrap();
    let default = tcfg["chat_template"].clone();
    tcfg["chat_template"] = serde_json::json!([
        {"name": "default", "template": default},
        {"name": "tool_use", "template": "{{ tools }}"},
    ]);
    std::fs::write(&tcfg_path, tcfg.to_string()).unwrap();
    let gguf = dir.path().join("tiny.gguf");
    let g = gguf.to_str().unwrap();
    let out = ok(&home.ferrite(&["convert", model.to_str().unwrap(), g]));
    assert!(out.contains("llama.cpp-layout GGUF"), "{out}");
    let info = json(&home.ferrite(&["info", g, "--json"]));
    let text = info.to_string();
    for key in [
        "general.architecture",
        "llama.block_count",
        "tokenizer.ggml.tokens",
        "tokenizer.chat_template",
        "tokenizer.chat_template.tool_use",
        "blk.0.attn_q.weight",
    ] {
        assert!(text.contains(key), "GGUF lacks {key}");
    }
    let args =
        |m: &str| ["run", m, "Once upon a time", "-n", "12", "--temp", "0"].map(String::from);
    let from_dir = home.ferrite(&args(model.to_str().unwrap()).each_ref().map(String::as_str));
    let from_gguf = home.ferrite(&args(g).each_ref().map(String::as_str));
    assert_eq!(ok(&from_dir), ok(&from_gguf));
}

#[test]
fn llm_command_errors_are_one_clear_line() {
    let home = Home::new();
    fails(
        &home.ferrite(&["run", "/no/such/model", "hi"]),
        "no such model file or directory",
    );
    fails(&home.ferrite(&["run", "hi", "--top-p", "0"]), "top_p");
    fails(
        &home.ferrite(&["run", "hi", "--threads", "0"]),
        "--threads must be at least 1",
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), r#"{"model_type": "bert"}"#).unwrap();
    fails(
        &home.ferrite(&["run", dir.path().to_str().unwrap(), "hi"]),
        "model_type 'bert' is not supported",
    );
    let junk = dir.path().join("junk.gguf");
    std::fs::write(&junk, b"GGUF\x03\x00\x00\x00garbage").unwrap();
    fails(
        &home.ferrite(&["run", junk.to_str().unwrap(), "hi"]),
        "junk.gguf",
    );
}

#[test]
fn chat_reads_turns_from_stdin_until_exit() {
    let home = Home::new();
    let model = home.model();
    let o = home.chat(
        &model,
        &["-n", "4", "--temp", "0", "--stats"],
        b"Hello\n\n/clear\nAgain\n/exit\nnever read\n",
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    // Two answers of 4 tokens each; the line after /exit is not answered.
    assert_eq!(err.matches("generated: 4 tokens").count(), 2, "{err}");
    assert_eq!(stdout(&o).lines().count(), 2, "{}", stdout(&o));
}

#[test]
fn chat_survives_a_conversation_longer_than_the_context() {
    let home = Home::new();
    let model = home.model();
    // A copy of the tiny model with a 40-token context: the second turn does not fit.
    let small = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&model).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, small.path().join(f.file_name().unwrap())).unwrap();
    }
    let cfg_path = small.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["max_position_embeddings"] = 40.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    let o = home.chat(
        small.path(),
        &["-n", "8", "--temp", "0", "--stats"],
        b"Hello\nHow are you today, my friend?\n/clear\nAgain\n",
    );
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("context holds 40 (/clear starts over)"),
        "{err}"
    );
    // The first turn and the one after /clear are answered.
    assert_eq!(err.matches("generated: 8 tokens").count(), 2, "{err}");
}

/// A copy of the tiny model in a new directory, with `max_position_embeddings`
/// set to `ctx`.
fn with_context(model: &Path, ctx: u64) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(model).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    let cfg_path = dir.path().join("config.json");
    let mut cfg: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg_path).unwrap()).unwrap();
    cfg["max_position_embeddings"] = ctx.into();
    std::fs::write(&cfg_path, cfg.to_string()).unwrap();
    dir
}

#[test]
fn chat_ctrl_c_stops_the_answer_and_the_conversation_goes_on() {
    use std::io::{Read, Write};
    use std::os::unix::process::ExitStatusExt;
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let home = Home::new();
    // 2048 tokens of context and of budget, past any end-of-sequence token: an
    // answer of seconds (the tiny model makes ~1000 tokens/s), so Ctrl-C lands
    // while it is generated.
    let model = with_context(&home.model(), 2048);
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferrite"))
        .arg("chat")
        .arg(model.path())
        .args(["-n", "2048", "--temp", "0", "--stats", "--ignore-eos"])
        .env("FERRITE_HOME", home.0.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run ferrite chat");
    let mut stdin = child.stdin.take().unwrap();
    // Readers on their own threads: the test waits on a channel with a
    // deadline, never on a blocking read or a fixed sleep.
    let (started_tx, started) = mpsc::channel();
    let mut out = child.stdout.take().unwrap();
    let out_reader = std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n @ 1..) = out.read(&mut buf) {
            all.extend_from_slice(&buf[..n]);
            let _ = started_tx.send(());
        }
        String::from_utf8_lossy(&all).into_owned()
    });
    let mut err = child.stderr.take().unwrap();
    let err_reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let deadline = Instant::now() + Duration::from_secs(120);
    let give_up = |child: &mut std::process::Child, what: &str| -> ! {
        let _ = child.kill();
        panic!("{what}");
    };

    stdin.write_all(b"Tell me a very long story.\n").unwrap();
    if started.recv_timeout(Duration::from_secs(60)).is_err() {
        give_up(&mut child, "the first answer did not start within 60 s");
    }
    // The answer is streaming: send SIGINT, as Ctrl-C in a terminal does.
    let pid = child.id().to_string();
    let sent = Command::new("kill").args(["-INT", &pid]).status().unwrap();
    assert!(sent.success(), "kill -INT {pid}: {sent:?}");
    stdin.write_all(b"And another one.\n/exit\n").unwrap();
    drop(stdin);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            give_up(&mut child, "ferrite chat did not exit within 120 s");
        }
        // Polling for exit, not waiting for an event: any interval works.
        std::thread::sleep(Duration::from_millis(20));
    };
    let out = out_reader.join().unwrap();
    let err = err_reader.join().unwrap();
    assert_eq!(status.signal(), None, "killed by a signal: {err}");
    assert_eq!(status.code(), Some(0), "{err}");
    // The first answer was cut short by Ctrl-C; the second was generated in full.
    let finishes: Vec<&str> = err
        .lines()
        .filter_map(|l| l.split("finish: ").nth(1))
        .collect();
    assert_eq!(finishes.len(), 2, "{err}");
    assert_eq!(finishes[0], "Cancelled", "{err}");
    assert_ne!(finishes[1], "Cancelled", "{err}");
    let generated: Vec<usize> = err
        .lines()
        .filter_map(|l| l.split("generated: ").nth(1))
        .filter_map(|s| s.split(' ').next()?.parse().ok())
        .collect();
    assert!(generated.len() == 2 && generated[1] > 0, "{err}");
    assert!(
        generated[0] < 2048,
        "the first answer was not cut short: {err}"
    );
    assert!(!out.trim().is_empty(), "{out:?}");
}
