//! Streaming decode equals full decode, and never emits part of a character.

mod common;

use common::{gguf_vocab, tokenizer_json, VOCABS as GGUF_VOCABS};
use ferrite_tokenizer::Tokenizer;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Every chunk the stream produced, and their concatenation after `finish`.
fn stream_chunks(tok: &Tokenizer, ids: &[u32], skip: bool) -> (Vec<String>, String) {
    let mut s = tok.stream_decoder(skip);
    let mut chunks: Vec<String> = ids.iter().map(|&id| s.push(id).unwrap()).collect();
    chunks.push(s.finish());
    let all = chunks.concat();
    (chunks, all)
}

/// Ids that stress the decoder: any token, single-byte tokens (parts of
/// characters), spaces and punctuation that the clean-up rules look at.
fn random_ids(tok: &Tokenizer, rng: &mut StdRng, len: usize) -> Vec<u32> {
    let n = tok.vocab_size() as u32;
    let bytes: Vec<u32> = (0..=255u8)
        .filter_map(|b| {
            let spm = format!("<0x{b:02X}>");
            tok.id_of(&spm).or_else(|| {
                tok.encode(&String::from_utf8_lossy(&[b]), false, false)
                    .ok()?
                    .first()
                    .copied()
            })
        })
        .collect();
    let tricky: Vec<u32> = [
        " ", "'", "?", ".", ",", "!", "s", "re", "ve", "m", "t", "r", "v", " '", "é", "🦙", "中",
    ]
    .iter()
    .flat_map(|s| tok.encode(s, false, false).unwrap_or_default())
    .collect();
    (0..len)
        .map(|_| match rng.gen_range(0..10) {
            0..=3 => rng.gen_range(0..n),
            4..=6 if !bytes.is_empty() => bytes[rng.gen_range(0..bytes.len())],
            _ if !tricky.is_empty() => tricky[rng.gen_range(0..tricky.len())],
            _ => rng.gen_range(0..n),
        })
        .collect()
}

#[test]
fn stream_equals_decode_on_random_ids() {
    let mut rng = StdRng::seed_from_u64(11);
    let mut checked = 0;
    for name in GGUF_VOCABS {
        let tok = gguf_vocab(name);
        for _ in 0..300 {
            let len = rng.gen_range(0..40);
            let ids = random_ids(&tok, &mut rng, len);
            for skip in [false, true] {
                let (_, streamed) = stream_chunks(&tok, &ids, skip);
                let full = tok.decode(&ids, skip).unwrap();
                assert_eq!(streamed, full, "{name} skip={skip} ids {ids:?}");
                checked += 1;
            }
        }
    }
    eprintln!("{checked} random sequences: stream == decode");
}

/// Text that decodes to valid UTF-8 streams out without a single U+FFFD,
/// even when its characters arrive one byte token at a time.
#[test]
fn stream_never_splits_a_character() {
    let texts = [
        "Hello 🦙 world, naïve café — 中文字符 and 👨‍👩‍👧‍👦!",
        "ꙮ𝔘𝔫𝔦𝔠𝔬𝔡𝔢 ∑ ≠ → ½ 한국어 \u{1F9E0}\u{1FAE0}",
        " leading space, then 'quotes' , and ? marks . too",
    ];
    let mut tokenizers: Vec<(String, Tokenizer)> = GGUF_VOCABS
        .iter()
        .map(|n| (n.to_string(), gguf_vocab(n)))
        .collect();
    for n in ["llama2", "llama3"] {
        tokenizers.push((
            n.to_string(),
            Tokenizer::from_tokenizer_json(tokenizer_json(n)).unwrap(),
        ));
    }
    for (name, tok) in &tokenizers {
        for text in texts {
            let ids = tok.encode(text, true, false).unwrap();
            for skip in [false, true] {
                let (chunks, all) = stream_chunks(tok, &ids, skip);
                assert_eq!(all, tok.decode(&ids, skip).unwrap(), "{name} {text:?}");
                for c in &chunks {
                    assert!(
                        !c.contains('\u{FFFD}'),
                        "{name}: chunk {c:?} of {text:?} splits a character"
                    );
                }
            }
        }
        // Byte tokens one at a time: nothing comes out until a character is whole.
        if let Some(first) = tok.id_of("<0xF0>") {
            let ids: Vec<u32> = ["<0xF0>", "<0x9F>", "<0xA6>", "<0x99>"]
                .iter()
                .map(|t| tok.id_of(t).unwrap())
                .collect();
            assert_eq!(ids[0], first);
            let mut s = tok.stream_decoder(true);
            let outs: Vec<String> = ids.iter().map(|&id| s.push(id).unwrap()).collect();
            assert_eq!(outs, ["", "", "", "🦙"], "{name}");
        }
    }
}

#[test]
fn stream_on_hf_tokenizers_matches_decode_when_valid() {
    let mut rng = StdRng::seed_from_u64(5);
    for n in ["llama2", "llama3"] {
        let tok = Tokenizer::from_tokenizer_json(tokenizer_json(n)).unwrap();
        let mut compared = 0;
        for _ in 0..400 {
            let len = rng.gen_range(0..40);
            let ids = random_ids(&tok, &mut rng, len);
            for skip in [false, true] {
                let full = tok.decode(&ids, skip).unwrap();
                // The Hugging Face byte-fallback decoder replaces invalid runs byte by byte.
                if full.contains('\u{FFFD}') {
                    continue;
                }
                compared += 1;
                assert_eq!(
                    stream_chunks(&tok, &ids, skip).1,
                    full,
                    "{n} skip={skip} ids {ids:?}"
                );
            }
        }
        eprintln!("{n}: {compared} random sequences compared");
        assert!(compared > 50, "{n}: too few valid sequences ({compared})");
    }
}
