//! The one writer all of the CLI's output goes through (see the crate docs).

use std::fmt;
use std::io::{self, Write};

use anyhow::Result;

/// The reader of the CLI's output went away (`EPIPE`): a normal end, not a failure.
#[derive(Debug, thiserror::Error)]
#[error("standard output was closed by its reader")]
pub struct OutputClosed;

/// The one writer every line of CLI output goes through (see the crate docs): a broken pipe
/// becomes [`OutputClosed`], which [`run`](crate::run) turns into a quiet, successful exit.
#[derive(Debug)]
pub struct Output<W: Write> {
    inner: W,
}

impl<W: Write> Output<W> {
    /// Output to `inner` (the locked stdout for `ward`).
    pub fn new(inner: W) -> Self {
        Self { inner }
    }

    /// Writes one line.
    pub fn line(&mut self, args: fmt::Arguments<'_>) -> Result<()> {
        let written = self
            .inner
            .write_fmt(args)
            .and_then(|()| self.inner.write_all(b"\n"));
        written.map_err(closed_or)
    }

    /// Flushes what is buffered.
    pub fn flush(&mut self) -> Result<()> {
        self.inner.flush().map_err(closed_or)
    }
}

fn closed_or(e: io::Error) -> anyhow::Error {
    if e.kind() == io::ErrorKind::BrokenPipe {
        OutputClosed.into()
    } else {
        anyhow::Error::new(e).context("writing to standard output")
    }
}
