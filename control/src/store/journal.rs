//! Writing the journal, on a thread of its own: a change is answered only once its line is
//! flushed, but the control thread must never wait for the disk (on a hung mount a write, or
//! even the look at the file that tells a hand edit, blocks for as long as the server stays
//! away). The control thread hands each change over and goes on serving; the outcome comes
//! back as [`Folded::Journalled`].

use super::{create_journal, journal_path, Folded, Line, Signature, Watch};
use crate::state::{Edit, Token};
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the journal thread is asked to do.
pub(super) enum Job {
    /// Write change `seq` down and flush it, unless the file was edited by hand.
    Change { seq: u64, edits: Vec<Edit>, token: Option<Token> },
    /// Say that the file holds every change up to `through` and hashes to `hash`.
    Compacted { hash: String, through: u64 },
    /// The file's text is now this one (a reload): a journal begun from now on starts from it.
    Base { text_hash: String },
}

/// Why a change was not written down.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NotWritten {
    /// The file was edited by hand since it was last read: changes wait for a reload.
    HandEdited(String),
    /// The journal could not be written (the message names it).
    Failed(String),
}

/// Starts the journal thread of the configuration at `path`, appending to `journal` (or making
/// one, beginning with `base_hash`, at the first change).
pub(super) fn spawn(
    path: PathBuf,
    journal: Option<File>,
    base_hash: String,
    jobs: crossbeam::channel::Receiver<Job>,
    done: crossbeam::channel::Sender<Folded>,
    watch: Arc<Watch>,
) -> std::io::Result<()> {
    std::thread::Builder::new().name("tm-journal".into()).spawn(move || {
        let mut w = Writer { path, journal, base_hash, torn: false, watch };
        for job in jobs {
            match job {
                Job::Change { seq, edits, token } => {
                    let result = w.change(seq, edits, token);
                    let _ = done.send(Folded::Journalled { seq, result });
                }
                Job::Compacted { hash, through } => w.compacted(hash, through),
                Job::Base { text_hash } => w.base_hash = text_hash,
            }
        }
    })?;
    Ok(())
}

struct Writer {
    path: PathBuf,
    journal: Option<File>,
    base_hash: String,
    /// A write failed: the file may end in part of a line, cut before the next is written.
    torn: bool,
    watch: Arc<Watch>,
}

impl Writer {
    fn change(&mut self, seq: u64, edits: Vec<Edit>, token: Option<Token>) -> Result<(), NotWritten> {
        // The look that tells a hand edit, here rather than on the control thread: no change
        // is written after a hand edit, however quickly it follows.
        if !self.watch.edited() {
            match Signature::of(&self.path) {
                Ok(sig) if !self.watch.is_ours(sig) => {
                    self.watch.mark_edited();
                    log::warn!("{} was edited by hand: changes through the API are refused until it is reloaded", self.path.display());
                }
                // Unreadable metadata says nothing about an edit; the journal still takes it.
                _ => {}
            }
        }
        if self.watch.edited() {
            return Err(NotWritten::HandEdited(hand_edit_refusal(&self.path)));
        }
        let line = serde_json::to_string(&Line::Change { seq, edits, token }).expect("journal lines serialise");
        self.append(&line).map_err(|e| NotWritten::Failed(format!("cannot write the journal {}: {e}", journal_path(&self.path).display())))
    }

    fn compacted(&mut self, hash: String, through: u64) {
        let line = serde_json::to_string(&Line::Compacted { compacted: hash, through }).expect("journal lines serialise");
        if let Err(e) = self.append(&line) {
            // Harmless: without the mark a load replays changes the file already holds.
            log::warn!("cannot mark the fold in {}: {e}", journal_path(&self.path).display());
        }
    }

    /// Appends `line` and flushes it. After a failed write the journal is opened afresh (the
    /// old descriptor may be dead, as on a mount that went away) and a cut line at its end is
    /// removed, so that a load never meets one followed by others.
    fn append(&mut self, line: &str) -> std::io::Result<()> {
        let jpath = journal_path(&self.path);
        if self.torn {
            self.journal = None;
            cut_torn_end(&jpath)?;
            self.torn = false;
        }
        if self.journal.is_none() {
            self.journal = Some(match OpenOptions::new().append(true).open(&jpath) {
                Ok(f) => f,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => create_journal(&jpath, &self.base_hash)?,
                Err(e) => return Err(e),
            });
        }
        let journal = self.journal.as_mut().expect("opened above");
        let written = journal.write_all(format!("{line}\n").as_bytes()).and_then(|_| journal.sync_data());
        if written.is_err() {
            self.torn = true;
        }
        written
    }
}

/// Removes a cut line at the end of the journal at `path` (what a failed write may leave).
fn cut_torn_end(path: &Path) -> std::io::Result<()> {
    let mut f = match OpenOptions::new().read(true).write(true).open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let keep = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    log::warn!("{}: removing the end of a line a failed write left ({} bytes)", path.display(), bytes.len() - keep);
    f.set_len(keep as u64)?;
    f.sync_all()
}

/// Why changes are refused after a hand edit of the file at `path`.
pub(super) fn hand_edit_refusal(path: &Path) -> String {
    format!(
        "{} was edited by hand since traffic-mirror last read it; reload it first (traffic-mirror ctl reload, or SIGHUP), then retry: changes through the API never overwrite a hand edit",
        path.display()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_cut_by_a_failed_write_is_removed_before_the_next_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml.journal");
        std::fs::write(&path, "{\"base\":\"1\"}\n{\"seq\":1,\"edi").unwrap();
        cut_torn_end(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"base\":\"1\"}\n");
        cut_torn_end(&path).unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "{\"base\":\"1\"}\n", "a whole journal is left as it is");
    }
}
