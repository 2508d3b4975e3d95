//! SentencePiece-style encoding (llama.cpp's `llm_tokenizer_spm`): start from
//! single characters, repeatedly merge the adjacent pair whose concatenation is
//! the highest-scoring token, and spell whatever is not a token as byte tokens.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::{Error, Result};
use crate::symbols::Symbols;
use crate::vocab::Vocab;

struct Bigram {
    left: usize,
    right: usize,
    score: f32,
    size: usize,
}

impl PartialEq for Bigram {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Bigram {}
impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    // Highest score first; on a tie the leftmost pair, as llama.cpp's queue orders them.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .partial_cmp(&other.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Encodes `text` (spaces already escaped to `▁`) onto `out`.
pub(crate) fn tokenize(vocab: &Vocab, text: &str, out: &mut Vec<u32>) -> Result<()> {
    let mut symbols = Symbols::of_chars(text);
    let mut queue = BinaryHeap::new();
    let try_add =
        |symbols: &Symbols, queue: &mut BinaryHeap<Bigram>, l: Option<usize>, r: Option<usize>| {
            let (Some(l), Some(r)) = (l, r) else {
                return;
            };
            let start = symbols.get(l).start;
            let size = symbols.get(l).len + symbols.get(r).len;
            if let Some(&id) = vocab.token_to_id.get(&text[start..start + size]) {
                queue.push(Bigram {
                    left: l,
                    right: r,
                    score: vocab.scores[id as usize],
                    size,
                });
            }
        };
    for i in 1..symbols.count() {
        try_add(&symbols, &mut queue, Some(i - 1), Some(i));
    }
    while let Some(b) = queue.pop() {
        let (l, r) = (symbols.get(b.left), symbols.get(b.right));
        // A pair is stale once either side was merged away or grew.
        if l.len == 0 || r.len == 0 || l.len + r.len != b.size {
            continue;
        }
        symbols.merge(b.left, b.right);
        try_add(&symbols, &mut queue, symbols.get(b.left).prev, Some(b.left));
        try_add(&symbols, &mut queue, Some(b.left), symbols.get(b.left).next);
    }
    for i in symbols.live() {
        let piece = symbols.text(text, i);
        match vocab.token_to_id.get(piece) {
            Some(&id) => out.push(id),
            None => {
                for b in piece.bytes() {
                    let id = vocab.byte_tokens[usize::from(b)]
                        .or(vocab.unk)
                        .ok_or(Error::NoByteToken(b))?;
                    out.push(id);
                }
            }
        }
    }
    Ok(())
}
