//! Byte-level BPE encoding (llama.cpp's `llm_tokenizer_bpe_session`): each
//! pre-tokenized word is mapped to GPT-2 characters, then adjacent symbols are
//! merged lowest merge rank first.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use crate::error::Result;
use crate::pretokenize::{byte_encode, PreTokenizer};
use crate::vocab::Vocab;

struct Symbol {
    start: usize,
    len: usize,
    id: Option<u32>,
    prev: Option<usize>,
    next: Option<usize>,
}

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
    let mut symbols: Vec<Symbol> = Vec::with_capacity(word.len());
    let mut buf = [0u8; 4];
    for (i, (start, c)) in word.char_indices().enumerate() {
        symbols.push(Symbol {
            start,
            len: c.len_utf8(),
            id: vocab.token_to_id.get(&*c.encode_utf8(&mut buf)).copied(),
            prev: i.checked_sub(1),
            next: None,
        });
        if i > 0 {
            symbols[i - 1].next = Some(i);
        }
    }
    if symbols.is_empty() {
        return;
    }
    let mut queue = BinaryHeap::new();
    let try_add =
        |symbols: &[Symbol], queue: &mut BinaryHeap<Bigram>, l: Option<usize>, r: Option<usize>| {
            let (Some(l), Some(r)) = (l, r) else { return };
            let (Some(left_id), Some(right_id)) = (symbols[l].id, symbols[r].id) else {
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
    for i in 1..symbols.len() {
        try_add(&symbols, &mut queue, Some(i - 1), Some(i));
    }
    while let Some(b) = queue.pop() {
        let (l, r) = (b.left, b.right);
        // Stale when either side has been merged into something else since.
        if symbols[l].len == 0
            || symbols[r].len == 0
            || symbols[l].id != Some(b.left_id)
            || symbols[r].id != Some(b.right_id)
        {
            continue;
        }
        symbols[l].len += symbols[r].len;
        symbols[l].id = b.merged;
        symbols[r].len = 0;
        symbols[l].next = symbols[r].next;
        if let Some(n) = symbols[r].next {
            symbols[n].prev = Some(l);
        }
        try_add(&symbols, &mut queue, symbols[l].prev, Some(l));
        try_add(&symbols, &mut queue, Some(l), symbols[l].next);
    }
    let mut cur = Some(0);
    while let Some(i) = cur {
        let s = &symbols[i];
        match s.id {
            Some(id) => out.push(id),
            // A merge whose result is not a token: spell it one character at a time.
            None => {
                for c in word[s.start..s.start + s.len].chars() {
                    if let Some(&id) = vocab.token_to_id.get(&*c.encode_utf8(&mut buf)) {
                        out.push(id);
                    }
                }
            }
        }
        cur = s.next;
    }
}
