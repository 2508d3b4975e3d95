//! Native (GGUF vocabulary) encoding: special tokens are split out of the raw
//! text first (llama.cpp's `tokenizer_st_partition`), then each text fragment
//! goes through the SPM or BPE encoder.

use crate::error::Result;
use crate::vocab::{attr, Vocab, VocabKind};
use crate::{bpe, spm};

enum Fragment {
    Text(usize, usize),
    Token(u32),
}

/// llama.cpp's C `isspace` in the "C" locale.
fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

fn partition(vocab: &Vocab, text: &str, parse_special: bool) -> Vec<Fragment> {
    let mut frags = vec![Fragment::Text(0, text.len())];
    if text.is_empty() {
        return Vec::new();
    }
    for &id in &vocab.special_cache {
        let a = vocab.attrs[id as usize];
        // Without parse_special only user-defined tokens are split out, as the
        // Hugging Face tokenizers do with non-special added tokens.
        if !parse_special && a & (attr::CONTROL | attr::UNKNOWN) != 0 {
            continue;
        }
        let special = vocab.tokens[id as usize].as_str();
        if special.is_empty() {
            continue;
        }
        let mut next = Vec::with_capacity(frags.len());
        for f in frags {
            let Fragment::Text(mut start, end) = f else {
                next.push(f);
                continue;
            };
            while let Some(pos) = text[start..end].find(special) {
                let m = start + pos;
                let mut left_end = m;
                if a & attr::LSTRIP != 0 {
                    while left_end > start && is_c_space(text.as_bytes()[left_end - 1]) {
                        left_end -= 1;
                    }
                }
                if left_end > start {
                    next.push(Fragment::Text(start, left_end));
                }
                next.push(Fragment::Token(id));
                start = m + special.len();
                if a & attr::RSTRIP != 0 {
                    while start < end && is_c_space(text.as_bytes()[start]) {
                        start += 1;
                    }
                }
            }
            if start < end {
                next.push(Fragment::Text(start, end));
            }
        }
        frags = next;
    }
    frags
}

/// llama.cpp's `llama_vocab::tokenize(text, add_special, parse_special)`.
pub(crate) fn encode(
    vocab: &Vocab,
    text: &str,
    add_special: bool,
    parse_special: bool,
) -> Result<Vec<u32>> {
    let frags = partition(vocab, text, parse_special);
    let mut out = Vec::new();
    if add_special && vocab.add_bos {
        out.extend(vocab.bos);
    }
    match (vocab.kind, &vocab.pre) {
        (VocabKind::Bpe, Some((_, pre))) => {
            for f in frags {
                match f {
                    Fragment::Text(s, e) => bpe::tokenize(vocab, pre, &text[s..e], &mut out)?,
                    Fragment::Token(id) => out.push(id),
                }
            }
        }
        _ => {
            // SentencePiece prefixes a space at the start and after each special token.
            let mut prev_special = true;
            for f in frags {
                match f {
                    Fragment::Text(s, e) => {
                        let mut t = String::with_capacity(e - s + 4);
                        if vocab.add_space_prefix && prev_special {
                            t.push(' ');
                        }
                        t.push_str(&text[s..e]);
                        let t = t.replace(' ', "\u{2581}");
                        spm::tokenize(vocab, &t, &mut out)?;
                        prev_special = false;
                    }
                    Fragment::Token(id) => {
                        out.push(id);
                        prev_special = true;
                    }
                }
            }
        }
    }
    if add_special && vocab.add_eos {
        out.extend(vocab.eos);
    }
    Ok(out)
}
