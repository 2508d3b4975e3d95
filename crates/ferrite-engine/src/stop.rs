//! Stop strings over streamed text: text that may be the start of a stop
//! string is held back until it is known not to be one, so the caller never
//! sees any part of a stop string.

/// Watches streamed text for stop strings.
pub struct StopMatcher {
    stops: Vec<String>,
    held: String,
}

impl StopMatcher {
    pub fn new(stops: &[String]) -> StopMatcher {
        StopMatcher {
            stops: stops.iter().filter(|s| !s.is_empty()).cloned().collect(),
            held: String::new(),
        }
    }

    /// Adds `piece`; returns the text now safe to show and whether a stop
    /// string was reached (the text then ends just before it).
    pub fn push(&mut self, piece: &str) -> (String, bool) {
        self.held.push_str(piece);
        let first_stop = self
            .stops
            .iter()
            .filter_map(|s| self.held.find(s.as_str()))
            .min();
        if let Some(at) = first_stop {
            let out = self.held[..at].to_string();
            self.held.clear();
            return (out, true);
        }
        let keep = self.longest_partial_suffix();
        let cut = self.held.len() - keep;
        let out = self.held[..cut].to_string();
        self.held.drain(..cut);
        (out, false)
    }

    /// The text still held back (when generation ends for another reason).
    pub fn finish(&mut self) -> String {
        std::mem::take(&mut self.held)
    }

    /// Bytes at the end of `held` that begin some stop string.
    fn longest_partial_suffix(&self) -> usize {
        let h = self.held.as_str();
        self.stops
            .iter()
            .flat_map(|s| {
                (1..s.len().min(h.len() + 1))
                    .rev()
                    .filter(move |&n| s.is_char_boundary(n) && h.ends_with(&s[..n]))
                    .take(1)
            })
            .max()
            .unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(stops: &[&str], pieces: &[&str]) -> (String, bool) {
        let stops: Vec<String> = stops.iter().map(|s| s.to_string()).collect();
        let mut m = StopMatcher::new(&stops);
        let mut out = String::new();
        for p in pieces {
            let (text, stop) = m.push(p);
            out += &text;
            if stop {
                return (out, true);
            }
        }
        out += &m.finish();
        (out, false)
    }

    #[test]
    fn stops_across_pieces_and_hides_the_stop_string() {
        assert_eq!(
            run(&["</s>"], &["Hello <", "/", "s> more"]),
            ("Hello ".into(), true)
        );
        assert_eq!(run(&["User:"], &["a", "b User", ":"]), ("ab ".into(), true));
    }

    #[test]
    fn releases_held_text_that_is_not_a_stop() {
        assert_eq!(run(&["</s>"], &["a <", "b"]), ("a <b".into(), false));
        assert_eq!(run(&["</s>"], &["end <"]), ("end <".into(), false));
        assert_eq!(run(&[], &["x", "y"]), ("xy".into(), false));
    }

    #[test]
    fn earliest_stop_wins_and_unicode_is_safe() {
        assert_eq!(run(&["cd", "b"], &["abcd"]), ("a".into(), true));
        assert_eq!(run(&["éx"], &["aé", "y"]), ("aéy".into(), false));
        assert_eq!(run(&["éx"], &["aé", "x"]), ("a".into(), true));
    }
}
