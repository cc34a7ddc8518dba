//! Writing a command's output: to a file the user named, or to standard output.
//!
//! Every command prints through [`write()`], so a closed pipe (`lite2pg plan app.db | head`)
//! ends quietly everywhere and a failed write names the file.

use std::io::Write as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Writes `text` to `output`, or to standard output when `None`.
pub fn write(output: Option<&Path>, text: &str) -> Result<()> {
    match output {
        Some(p) => {
            std::fs::write(p, text).map_err(|e| Error::io(format!("writing {}", p.display()), e))
        }
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                // A closed pipe (`| head`) is the reader's choice, not a failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => other.map_err(|e| Error::io("writing to standard output", e)),
            }
        }
    }
}
