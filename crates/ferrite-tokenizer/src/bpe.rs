//! Byte-level BPE encoding (llama.cpp's `llm_tokenizer_bpe_session`): each
//! pre-tokenized word is mapped to GPT-2 characters, then adjacent symbols are
//! merged lowest merge rank first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::Result;
use crate::pretokenize::{byte_encode, PreTokenizer};
use crate::symbols::Symbols;
use crate::vocab::Vocab;

#[derive(PartialEq, Eq)]
struct Bigram {
    rank: u32,
    left: usize,
    right: usize,
    left_id: u32,
    right_id: u32,
    merged: Option<u32>,
}

impl PartialOrd for Bigram {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Bigram {
    // BinaryHeap pops the greatest: make that the lowest rank, then the leftmost pair.
    fn cmp(&self, other: &Self) -> Ordering {
        other
            .rank
            .cmp(&self.rank)
            .then_with(|| other.left.cmp(&self.left))
    }
}

/// Encodes `text` onto `out`.
pub(crate) fn tokenize(
    vocab: &Vocab,
    pre: &PreTokenizer,
    text: &str,
    out: &mut Vec<u32>,
) -> Result<()> {
    for word in pre.split(text)? {
        let word = byte_encode(word);
        if vocab.ignore_merges {
            if let Some(&id) = vocab.token_to_id.get(&word) {
                out.push(id);
                continue;
            }
        }
        merge_word(vocab, &word, out);
    }
    Ok(())
}

fn merge_word(vocab: &Vocab, word: &str, out: &mut Vec<u32>) {
    let mut symbols = Symbols::of_chars(word);
    // Each live symbol's token, if its text is one.
    let mut ids: Vec<Option<u32>> = (0..symbols.count())
        .map(|i| vocab.token_to_id.get(symbols.text(word, i)).copied())
        .collect();
    let mut queue = BinaryHeap::new();
    let try_add = |ids: &[Option<u32>],
                   queue: &mut BinaryHeap<Bigram>,
                   l: Option<usize>,
                   r: Option<usize>| {
        let (Some(l), Some(r)) = (l, r) else { return };
        let (Some(left_id), Some(right_id)) = (ids[l], ids[r]) else {
            return;
        };
        if let Some(&(rank, merged)) = vocab.ranks.get(&(left_id, right_id)) {
            queue.push(Bigram {
                rank,
                left: l,
                right: r,
                left_id,
                right_id,
                merged,
            });
        }
    };
    for i in 1..symbols.count() {
        try_add(&ids, &mut queue, Some(i - 1), Some(i));
    }
    while let Some(b) = queue.pop() {
        let (l, r) = (b.left, b.right);
        // Stale when either side has been merged into something else since.
        if symbols.get(l).len == 0
            || symbols.get(r).len == 0
            || ids[l] != Some(b.left_id)
            || ids[r] != Some(b.right_id)
        {
            continue;
        }
        symbols.merge(l, r);
        ids[l] = b.merged;
        try_add(&ids, &mut queue, symbols.get(l).prev, Some(l));
        try_add(&ids, &mut queue, Some(l), symbols.get(l).next);
    }
    let mut buf = [0u8; 4];
    for i in symbols.live() {
        match ids[i] {
            Some(id) => out.push(id),
            // A merge whose result is not a token: spell it one character at a time.
            None => {
                for c in symbols.text(word, i).chars() {
                    if let Some(&id) = vocab.token_to_id.get(&*c.encode_utf8(&mut buf)) {
                        out.push(id);
                    }
                }
            }
        }
    }
}
