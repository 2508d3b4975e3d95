//! Streaming decode: ids go in one at a time, and only text that can no
//! longer change comes out, so a character is never split and the pieces
//! always add up to [`Tokenizer::decode`] of the whole sequence.

use crate::decode::clean_spaces;
use crate::error::Result;
use crate::vocab::DecodeStyle;
use crate::Tokenizer;

/// Incremental detokenizer; see [`Tokenizer::stream_decoder`].
///
/// The concatenation of every [`push`](Self::push) result and
/// [`finish`](Self::finish) equals `decode(all ids, skip_special)` for GGUF
/// vocabularies, and for tokenizer.json ones whenever the sequence decodes to
/// valid UTF-8 (the Hugging Face byte-fallback decoder replaces each byte of
/// an invalid run with U+FFFD, which a stream cannot know in advance).
pub struct StreamDecoder<'a> {
    tok: &'a Tokenizer,
    skip_special: bool,
    started: bool,
    strip_next: bool,
    pending: Vec<u8>,
}

impl<'a> StreamDecoder<'a> {
    pub(crate) fn new(tok: &'a Tokenizer, skip_special: bool) -> StreamDecoder<'a> {
        StreamDecoder {
            tok,
            skip_special,
            started: false,
            strip_next: false,
            pending: Vec::new(),
        }
    }

    /// Adds one token and returns the text it completes (often empty while a
    /// multi-byte character is still arriving).
    pub fn push(&mut self, id: u32) -> Result<String> {
        let v = &self.tok.vocab;
        v.check_id(id)?;
        if !self.started {
            self.started = true;
            self.strip_next = match v.decode_style {
                DecodeStyle::LlamaCpp => v.add_space_prefix,
                DecodeStyle::Hf {
                    strip_leading_space,
                } => strip_leading_space,
            };
            if v.decode_style == DecodeStyle::LlamaCpp
                && self.skip_special
                && v.add_bos
                && Some(id) == v.bos
            {
                // As llama_detokenize: a removed BOS keeps the next token's space.
                self.strip_next = false;
                return Ok(String::new());
            }
        }
        let mut piece = v.piece(id, !self.skip_special);
        match v.decode_style {
            DecodeStyle::LlamaCpp => {
                if self.strip_next {
                    piece = piece.strip_prefix(b" ").unwrap_or(piece);
                }
                self.strip_next = false;
            }
            DecodeStyle::Hf { .. } => {
                if self.strip_next && !piece.is_empty() {
                    piece = piece.strip_prefix(b" ").unwrap_or(piece);
                    self.strip_next = false;
                }
            }
        }
        self.pending.extend_from_slice(piece);
        Ok(self.drain(false))
    }

    /// Returns whatever is still held back (an incomplete character becomes U+FFFD).
    pub fn finish(&mut self) -> String {
        self.drain(true)
    }

    fn drain(&mut self, all: bool) -> String {
        let clean = self.tok.vocab.clean_spaces;
        let upto = if all {
            self.pending.len()
        } else {
            safe_cut(&self.pending, clean)
        };
        if upto == 0 {
            return String::new();
        }
        let chunk: Vec<u8> = self.pending.drain(..upto).collect();
        let bytes = if clean { clean_spaces(&chunk) } else { chunk };
        String::from_utf8_lossy(&bytes).into_owned()
    }
}

/// The longest prefix of `buf` whose decoding cannot change whatever follows.
fn safe_cut(buf: &[u8], clean: bool) -> usize {
    // Whole characters and definitely-invalid sequences are settled; an
    // incomplete sequence at the end may still be completed.
    let mut done = 0;
    while done < buf.len() {
        match std::str::from_utf8(&buf[done..]) {
            Ok(_) => done = buf.len(),
            Err(e) => {
                done += e.valid_up_to();
                match e.error_len() {
                    Some(n) => done += n,
                    None => break,
                }
            }
        }
    }
    if !clean {
        return done;
    }
    // The clean-up rules all begin with a space and continue through `'`,
    // `r` or `v`; cutting after any other character cannot change them.
    let is_continuation = |b: u8| (0x80..0xC0).contains(&b);
    let mut p = done;
    while p > 0 {
        let at_boundary = p == done || !is_continuation(buf[p]);
        let last = buf[p - 1];
        if at_boundary && !matches!(last, b' ' | b'\'' | b'r' | b'v') {
            return p;
        }
        p -= 1;
    }
    0
}
