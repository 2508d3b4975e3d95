//! Just enough of SentencePiece's `tokenizer.model` (a protobuf `ModelProto`)
//! to take its pieces, scores and types, as `convert_hf_to_gguf.py` does.

use std::path::Path;

use crate::error::{Error, Result};

pub(crate) struct SpmModel {
    pub pieces: Vec<(String, f32, i32)>,
    /// `normalizer_spec.add_dummy_prefix` (true when absent).
    pub add_dummy_prefix: bool,
}

/// A field: number, wire type, length-delimited or fixed payload, varint value.
type Field<'a> = (u64, u64, &'a [u8], u64);

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Option<u64> {
        let mut v = 0u64;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos)?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Some(v);
            }
        }
        None
    }

    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let end = self.pos.checked_add(n)?;
        let s = self.buf.get(self.pos..end)?;
        self.pos = end;
        Some(s)
    }

    /// The next field as (number, wire type, payload); varints come back in `value`.
    fn field(&mut self) -> Option<Field<'a>> {
        let key = self.varint()?;
        let (num, wire) = (key >> 3, key & 7);
        match wire {
            0 => Some((num, wire, &[], self.varint()?)),
            1 => Some((num, wire, self.bytes(8)?, 0)),
            2 => {
                let n = usize::try_from(self.varint()?).ok()?;
                Some((num, wire, self.bytes(n)?, 0))
            }
            5 => Some((num, wire, self.bytes(4)?, 0)),
            _ => None,
        }
    }

    fn fields(buf: &'a [u8]) -> Option<Vec<Field<'a>>> {
        let mut r = Reader { buf, pos: 0 };
        let mut out = Vec::new();
        while r.pos < buf.len() {
            out.push(r.field()?);
        }
        Some(out)
    }
}

fn parse(buf: &[u8]) -> Option<SpmModel> {
    let mut pieces = Vec::new();
    let mut add_dummy_prefix = true;
    for (num, wire, payload, _) in Reader::fields(buf)? {
        match (num, wire) {
            (1, 2) => {
                let (mut text, mut score, mut ty) = (String::new(), 0.0f32, 1i32);
                for (n, w, p, v) in Reader::fields(payload)? {
                    match (n, w) {
                        (1, 2) => text = String::from_utf8(p.to_vec()).ok()?,
                        (2, 5) => score = f32::from_le_bytes(p.try_into().ok()?),
                        (3, 0) => ty = i32::try_from(v).ok()?,
                        _ => {}
                    }
                }
                pieces.push((text, score, ty));
            }
            (3, 2) => {
                for (n, w, _, v) in Reader::fields(payload)? {
                    if (n, w) == (3, 0) {
                        add_dummy_prefix = v != 0;
                    }
                }
            }
            _ => {}
        }
    }
    Some(SpmModel {
        pieces,
        add_dummy_prefix,
    })
}

pub(crate) fn load(path: &Path) -> Result<SpmModel> {
    let bytes = std::fs::read(path).map_err(|e| Error::File {
        path: path.to_path_buf(),
        msg: e.to_string(),
    })?;
    parse(&bytes)
        .filter(|m| !m.pieces.is_empty())
        .ok_or_else(|| Error::File {
            path: path.to_path_buf(),
            msg: "not a SentencePiece model (malformed protobuf or no pieces)".into(),
        })
}
