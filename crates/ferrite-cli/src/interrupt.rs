//! Ctrl-C: while an answer is being generated it stops that answer; otherwise
//! it ends the program as usual (status 130).

use std::sync::atomic::{AtomicBool, Ordering};

static GENERATING: AtomicBool = AtomicBool::new(false);
static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Installs the handler (once, at start-up).
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if GENERATING.load(Ordering::SeqCst) {
            REQUESTED.store(true, Ordering::SeqCst);
        } else {
            eprintln!();
            std::process::exit(130);
        }
    });
}

/// Marks generation as running until the guard drops.
pub fn generating() -> Generating {
    REQUESTED.store(false, Ordering::SeqCst);
    GENERATING.store(true, Ordering::SeqCst);
    Generating
}

pub struct Generating;

impl Drop for Generating {
    fn drop(&mut self) {
        GENERATING.store(false, Ordering::SeqCst);
    }
}

/// Whether Ctrl-C was pressed since the last call.
pub fn take() -> bool {
    REQUESTED.swap(false, Ordering::SeqCst)
}
