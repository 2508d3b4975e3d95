//! Writing results to stdout.

use std::io::{self, Write};

pub use ferrite_formats::human_bytes;

/// Prints `text`; a closed pipe (`ferrite info x | head`) is not an error.
pub fn print(text: &str) -> crate::Result<()> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => {
            Err(format!("cannot write to stdout: {e}").into())
        }
        _ => Ok(()),
    }
}

/// `s` with every control character escaped (`\n`, `\r`, `\u{1b}`, ...), for text that
/// comes from a file: a tensor name carrying ESC or CR must not repaint the terminal,
/// and a newline must not split a one-line message.
pub fn printable(s: &str) -> String {
    if !s.chars().any(char::is_control) {
        return s.to_string();
    }
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}
