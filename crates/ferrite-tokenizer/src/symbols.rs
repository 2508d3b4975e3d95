//! The linked list of symbols that both merge loops (SPM and BPE) shrink:
//! a merge absorbs the right symbol into the left one and unlinks it, so
//! indices stay valid and stale queue entries can be recognised.

pub(crate) struct Symbol {
    pub start: usize,
    pub len: usize,
    pub prev: Option<usize>,
    pub next: Option<usize>,
}

pub(crate) struct Symbols(Vec<Symbol>);

impl Symbols {
    /// One symbol per character of `text`.
    pub fn of_chars(text: &str) -> Symbols {
        let mut v: Vec<Symbol> = Vec::with_capacity(text.len());
        for (i, (start, c)) in text.char_indices().enumerate() {
            v.push(Symbol {
                start,
                len: c.len_utf8(),
                prev: i.checked_sub(1),
                next: None,
            });
            if i > 0 {
                v[i - 1].next = Some(i);
            }
        }
        Symbols(v)
    }

    pub fn count(&self) -> usize {
        self.0.len()
    }

    pub fn get(&self, i: usize) -> &Symbol {
        &self.0[i]
    }

    /// `text[...]` of symbol `i` (the text the list was built from).
    pub fn text<'t>(&self, text: &'t str, i: usize) -> &'t str {
        let s = &self.0[i];
        &text[s.start..s.start + s.len]
    }

    /// Absorbs `r` (the successor of `l`) into `l`.
    pub fn merge(&mut self, l: usize, r: usize) {
        let (len, next) = (self.0[r].len, self.0[r].next);
        self.0[l].len += len;
        self.0[r].len = 0;
        self.0[l].next = next;
        if let Some(n) = next {
            self.0[n].prev = Some(l);
        }
    }

    /// The indices of the symbols still linked, in text order.
    pub fn live(&self) -> Vec<usize> {
        let mut out = Vec::new();
        let mut cur = if self.0.is_empty() { None } else { Some(0) };
        while let Some(i) = cur {
            out.push(i);
            cur = self.0[i].next;
        }
        out
    }
}
