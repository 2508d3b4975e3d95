//! Native decoding (llama.cpp's `llama_detokenize`) and the space clean-up
//! some BPE vocabularies apply after it.

use crate::error::Result;
use crate::vocab::{DecodeStyle, Vocab};

/// The bytes of `ids` before clean-up. `skip_special` is llama.cpp's
/// `remove_special` (drop a leading BOS and trailing EOS the model adds) with
/// `unparse_special` off (control and unknown tokens render as nothing).
pub(crate) fn raw_bytes(vocab: &Vocab, ids: &[u32], skip_special: bool) -> Result<Vec<u8>> {
    for &id in ids {
        vocab.check_id(id)?;
    }
    let mut ids = ids;
    let mut out = Vec::new();
    match vocab.decode_style {
        DecodeStyle::LlamaCpp => {
            let mut remove_space = vocab.add_space_prefix;
            if skip_special && vocab.add_bos && ids.first().is_some_and(|&f| Some(f) == vocab.bos) {
                // llama.cpp keeps the space after a BOS it removes.
                remove_space = false;
                ids = &ids[1..];
            }
            if skip_special && vocab.add_eos && ids.last().is_some_and(|&l| Some(l) == vocab.eos) {
                ids = &ids[..ids.len() - 1];
            }
            for &id in ids {
                let mut p = vocab.piece(id, !skip_special);
                if remove_space {
                    p = p.strip_prefix(b" ").unwrap_or(p);
                }
                remove_space = false;
                out.extend_from_slice(p);
            }
        }
        DecodeStyle::Hf {
            strip_leading_space,
        } => {
            for &id in ids {
                out.extend_from_slice(vocab.piece(id, !skip_special));
            }
            if strip_leading_space && out.first() == Some(&b' ') {
                out.remove(0);
            }
        }
    }
    Ok(out)
}

/// llama.cpp's three clean-up passes: no space before `?!.,`, `" ' "` becomes
/// `'`, and no space before `'s 'm 're 've`.
pub(crate) fn clean_spaces(text: &[u8]) -> Vec<u8> {
    if text.is_empty() {
        return Vec::new();
    }
    let mut a: Vec<u8> = Vec::with_capacity(text.len());
    a.push(text[0]);
    for i in 1..text.len() {
        let x = text[i];
        if text[i - 1] == b' ' && matches!(x, b'?' | b'!' | b'.' | b',') {
            a.pop();
        }
        a.push(x);
    }
    let mut b: Vec<u8> = Vec::with_capacity(a.len());
    b.push(a[0]);
    let mut i = 1;
    // `prev` is the previous input byte, except after a dropped space, which reads as NUL.
    let mut prev = a[0];
    while i < a.len() {
        let x = a[i];
        if x == b'\'' && i + 1 < a.len() && prev == b' ' && a[i + 1] == b' ' {
            b.pop();
            b.push(x);
            prev = 0;
            i += 2;
            continue;
        }
        b.push(x);
        prev = x;
        i += 1;
    }
    let mut c: Vec<u8> = Vec::with_capacity(b.len());
    c.push(b[0]);
    for i in 1..b.len() {
        let x = b[i];
        if b[i - 1] == b' ' && x == b'\'' && i + 1 < b.len() {
            let x1 = b[i + 1];
            let drop = match x1 {
                b's' | b'm' => true,
                b't' | b'd' => false,
                _ => i + 2 < b.len() && matches!((x1, b[i + 2]), (b'r', b'e') | (b'v', b'e')),
            };
            if drop {
                c.pop();
            }
        }
        c.push(x);
    }
    c
}

pub(crate) fn decode(vocab: &Vocab, ids: &[u32], skip_special: bool) -> Result<String> {
    let raw = raw_bytes(vocab, ids, skip_special)?;
    let bytes = if vocab.clean_spaces {
        clean_spaces(&raw)
    } else {
        raw
    };
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
