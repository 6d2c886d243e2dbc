//! Changes that survive: every accepted change is appended to a journal beside the
//! configuration file and flushed before it is answered (by a thread of its own, so that the
//! control thread never waits for the disk); a background thread folds the journal into the
//! file (rewriting only what changed, comments kept), so the file reads as the running
//! configuration shortly after.
//!
//! Why a journal and not a rewrite per change: with 10,000 sessions the file is over a
//! megabyte, and rewriting it for every change would make a change cost what everything
//! costs. An append is a line; the fold runs off the control thread and batches changes.
//!
//! The journal (`<file>.journal`, JSON lines):
//! - `{"base": H}` first: the file's text hashed to H when the journal began;
//! - `{"seq": n, "edits": [...], "token": ...}`: change n;
//! - `{"compacted": H, "through": n}`: the file was rewritten to hold every change up to n,
//!   and its text hashes to H.
//!
//! Loading takes the file, then replays the changes after the last point the file is known to
//! hold. Edits put or delete whole resources by id, so replaying one the file already holds
//! changes nothing: a crash anywhere in a fold leaves a state that loads right. A hand edit of
//! the file is noticed (its hash is not one we wrote) and never overwritten: changes through
//! the API are refused until the file is reloaded, and a reload takes the edit first, then the
//! changes that were made through the API since the file was last written.

mod fold;
mod journal;

use crate::config::{self, Config, ConfigError};
use crate::state::{apply_all, Edit, Token, Tokens};
use serde::{Deserialize, Serialize};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

pub use journal::NotWritten;

/// What tells one version of a file from another without reading it: size, modification
/// time and inode (a rename gives a new inode, an edit in place a new time).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Signature {
    len: u64,
    mtime_ns: i128,
    ino: u64,
}

impl Signature {
    /// The signature of the file at `path` now.
    pub fn of(path: &Path) -> std::io::Result<Signature> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path)?;
        Ok(Signature { len: m.len(), mtime_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()), ino: m.ino() })
    }
}

/// Whether the file is still the one traffic-mirror last read or wrote, shared by the control
/// thread (which looks before every change) and the fold thread (which writes the file).
#[derive(Debug, Default)]
pub(crate) struct Watch {
    /// Set once a hand edit is noticed; cleared by a reload.
    edited: AtomicBool,
    /// The folds written (hash of the text, last change held), known here before the journal
    /// says so.
    folds: std::sync::Mutex<Vec<(String, u64)>>,
    /// The signatures the file may have: the last one written or read, and (while a fold
    /// renames its new file into place) the one it is becoming.
    ours: std::sync::Mutex<Vec<Signature>>,
}

impl Watch {
    fn is_ours(&self, sig: Signature) -> bool {
        self.ours.lock().map(|o| o.contains(&sig)).unwrap_or(false)
    }

    /// The file is now `sig` (read or written here); `also` keeps the previous one allowed.
    pub(crate) fn set(&self, sig: Option<Signature>, also: bool) {
        if let Ok(mut o) = self.ours.lock() {
            if !also {
                o.clear();
            }
            o.extend(sig);
            let n = o.len();
            if n > 2 {
                o.drain(..n - 2);
            }
        }
    }

    pub(crate) fn edited(&self) -> bool {
        self.edited.load(Ordering::SeqCst)
    }

    /// A fold is about to put text hashing to `hash` in place, holding changes up to `through`.
    pub(crate) fn folding(&self, hash: String, through: u64) {
        if let Ok(mut f) = self.folds.lock() {
            f.push((hash, through));
            let n = f.len();
            if n > 4 {
                f.drain(..n - 4);
            }
        }
    }

    pub(crate) fn mark_edited(&self) {
        self.edited.store(true, Ordering::SeqCst);
    }
}

/// One line of the journal.
#[derive(Debug, Serialize, Deserialize)]
#[serde(untagged)]
enum Line {
    Change { seq: u64, edits: Vec<Edit>, #[serde(default, skip_serializing_if = "Option::is_none")] token: Option<Token> },
    Compacted { compacted: String, through: u64 },
    Base { base: String },
    Token { token: Token },
}

/// The hash the journal knows a file's text by (FNV-1a, 64 bits: change detection, not
/// security).
pub fn text_hash(text: &str) -> String {
    let h = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
    format!("{h:016x}")
}

/// What loading found: the running configuration, its tokens, and how it came about.
pub struct Loaded {
    pub cfg: Config,
    pub tokens: Tokens,
    /// Changes replayed from the journal on top of the file.
    pub replayed: usize,
    /// The file was edited by hand since traffic-mirror last wrote it.
    pub hand_edited: bool,
    /// The file's text, and what the journal says up to where the file is known to hold.
    text: String,
    signature: Option<Signature>,
    changes: Vec<(u64, Vec<Edit>)>,
    last_seq: u64,
}

/// Reads the configuration file and its journal: the file, plus every change made through the
/// API that the file does not hold yet. For start-up, which has nothing to serve yet: the
/// reading is waited for, and given up with an error naming the file after [`config::START_PATIENCE`]
/// (a hung mount blocks even a look at the file).
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let owned = path.to_path_buf();
    let files = config::within(&path.display().to_string(), config::START_PATIENCE, move || read_files(&owned))?;
    take(path, files, &[])
}

/// What loading reads of the file system.
struct Files {
    text: String,
    signature: Option<Signature>,
    lines: Vec<Line>,
}

/// Reads the file and its journal, for as long as the file system takes.
fn read_files(path: &Path) -> Result<Files, ConfigError> {
    // Looked at before and after reading: a file that changed meanwhile has no signature of
    // ours, so the next change through the API sees it as the hand edit it is.
    let before = Signature::of(path).ok();
    let text = config::read_text(path)?;
    let signature = before.filter(|b| Signature::of(path).ok().as_ref() == Some(b));
    let lines = read_journal(&journal_path(path)).map_err(|e| ConfigError::file(&path.display().to_string(), e))?;
    Ok(Files { text, signature, lines })
}

/// [`load`] on a thread that may wait for the file system (the fold thread), knowing of folds
/// (hash, through) the journal may not say yet.
pub(crate) fn load_knowing(path: &Path, folds: &[(String, u64)]) -> Result<Loaded, ConfigError> {
    take(path, read_files(path)?, folds)
}

/// The running configuration `files` hold: the file's, with the journal's changes it does not
/// hold yet replayed on top.
fn take(path: &Path, files: Files, folds: &[(String, u64)]) -> Result<Loaded, ConfigError> {
    let file = path.display().to_string();
    let Files { text, signature, lines } = files;
    let hash = text_hash(&text);
    let mut cfg = config::parse(&text, &file)?;
    let mut tokens = Tokens::default();
    // Where the file is known to be: after the last fold whose text is this file's, or (when
    // the file is not one we wrote) after the last fold at all.
    let mut known = None;
    let mut last_fold = 0;
    let mut last_seq = 0;
    for (h, through) in folds {
        if *h == hash {
            known = Some(*through);
        }
    }
    for l in &lines {
        match l {
            Line::Base { base } if *base == hash => known = Some(0),
            Line::Compacted { compacted, through } => {
                last_fold = *through;
                if *compacted == hash {
                    known = Some(*through);
                }
            }
            Line::Change { seq, token, .. } => {
                last_seq = last_seq.max(*seq);
                if let Some(t) = token {
                    tokens.remember(t.clone());
                }
            }
            Line::Token { token } => tokens.remember(token.clone()),
            Line::Base { .. } => {}
        }
    }
    let hand_edited = known.is_none() && !lines.is_empty();
    let after = known.unwrap_or(last_fold);
    let changes: Vec<(u64, Vec<Edit>)> = lines
        .into_iter()
        .filter_map(|l| match l {
            Line::Change { seq, edits, .. } if seq > after => Some((seq, edits)),
            _ => None,
        })
        .collect();
    for (_, edits) in &changes {
        apply_all(&mut cfg, edits);
    }
    if !changes.is_empty() {
        cfg.validate().map_err(|problems| ConfigError {
            problems: problems
                .into_iter()
                .map(|p| (Some(file.clone()), None, format!("{} (with the changes made through the API kept in {}, which the file does not hold yet)", p.in_file_terms(), journal_path(path).display())))
                .collect(),
        })?;
    }
    Ok(Loaded { cfg, tokens, replayed: changes.len(), hand_edited, text, signature, changes, last_seq })
}

/// `<file>.journal`.
pub fn journal_path(config: &Path) -> PathBuf {
    let mut name = config.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".journal");
    config.with_file_name(name)
}

/// The journal's lines; a torn last line (a crash mid-write) is left out.
fn read_journal(path: &Path) -> Result<Vec<Line>, String> {
    // A FIFO in its place would block the control thread for good, as one for the file would.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(format!("the journal {} is not a regular file", path.display()));
    }
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("cannot read the journal {}: {e}", path.display())),
    };
    let mut out = Vec::new();
    let lines: Vec<&str> = text.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        match serde_json::from_str::<Line>(l) {
            Ok(line) => out.push(line),
            Err(_) if i + 1 == lines.len() && !text.ends_with('\n') => log::warn!("{}: the last line was cut short (a crash while writing it); it is left out", path.display()),
            Err(e) => return Err(format!("{}:{}: not a journal line: {e}", path.display(), i + 1)),
        }
    }
    Ok(out)
}

/// Writes `text` to `path` so that a crash leaves the old file or the new one, never a mix:
/// a temporary file beside it, flushed, renamed over it, the folder flushed. `before_rename`
/// sees the new file's signature before it takes the old one's place.
pub fn write_atomically(path: &Path, text: &str) -> std::io::Result<()> {
    write_atomically_then(path, text, |_| {})
}

/// [`write_atomically`], telling `before_rename` the new file's signature first.
pub fn write_atomically_then(path: &Path, text: &str, before_rename: impl FnOnce(Option<Signature>)) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp.{}", std::process::id()));
    {
        let mut f = File::create(&tmp)?;
        if let Ok(meta) = std::fs::metadata(path) {
            let _ = f.set_permissions(meta.permissions());
        }
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
    }
    before_rename(Signature::of(&tmp).ok());
    std::fs::rename(&tmp, path)?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(())
}

/// What the store's threads (the fold thread, the journal thread) tell the control thread.
pub enum Folded {
    /// The file now holds every change up to `through`; its text hashes to `hash`.
    Written { hash: String, through: u64 },
    /// The file is not the one traffic-mirror last wrote or read: edited by hand.
    HandEdit,
    /// The fold failed (the journal still holds the changes).
    Failed(String),
    /// What [`Store::reread`] read: the configuration to put in force, or why it cannot be.
    Reread(Box<Result<Loaded, ConfigError>>),
    /// Change `seq`, handed over by [`Store::write`], is on disk, or why not.
    Journalled { seq: u64, result: Result<(), NotWritten> },
}

/// The durable store of one configuration file.
pub struct Store {
    path: PathBuf,
    /// Why the journal cannot be written, when it cannot.
    unwritable: Option<String>,
    /// The last change on disk.
    seq: u64,
    /// Changes not yet folded into the file, for a reload to replay.
    pending: Vec<(u64, Vec<Edit>)>,
    to_fold: crossbeam::channel::Sender<FoldJob>,
    to_journal: crossbeam::channel::Sender<journal::Job>,
    /// Whether the file is still ours.
    watch: Arc<Watch>,
}

enum FoldJob {
    /// Fold change `seq` into the file.
    Changes(u64, Vec<Edit>),
    /// Read the file and journal for a reload, then fold nothing until told how it ended
    /// (so that no fold runs between the reading and the reload's taking effect).
    Reread,
    /// The reload took effect: the file's text is this, the journal holds `pending` beyond it.
    Loaded { text: String, pending: Vec<(u64, Vec<Edit>)> },
    /// The reload was refused: carry on as before.
    Resume,
}

impl Store {
    /// Opens the journal of `path` after [`load`], starting the fold thread, whose reports
    /// arrive on the returned channel.
    pub fn open(path: &Path, loaded: &Loaded) -> (Store, crossbeam::channel::Receiver<Folded>) {
        let jpath = journal_path(path);
        let (to_fold, jobs) = crossbeam::channel::unbounded();
        let (to_journal, lines) = crossbeam::channel::unbounded();
        let (done, reports) = crossbeam::channel::unbounded();
        let watch = Arc::new(Watch::default());
        watch.set(loaded.signature, false);
        let unwritable = open_journal(&jpath, &loaded.text, &loaded.tokens, &loaded.changes)
            .and_then(|journal| journal::spawn(path.to_path_buf(), journal, text_hash(&loaded.text), lines, done.clone(), watch.clone()))
            .err()
            .map(|e| {
                let why = format!("cannot write the journal {}: {e}", jpath.display());
                log::warn!("{why}: changes through the API will be refused");
                why
            });
        fold::spawn(path.to_path_buf(), loaded.text.clone(), loaded.changes.clone(), jobs, done, watch.clone());
        let store = Store { path: path.to_path_buf(), unwritable, seq: loaded.last_seq, pending: loaded.changes.clone(), to_fold, to_journal, watch };
        (store, reports)
    }

    /// The configuration file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Why changes cannot be accepted now, as far as is known without a look at the disk: the
    /// journal is not writable, or the file was edited by hand and must be reloaded first. (The
    /// journal thread looks at the file before it writes each change.)
    pub fn refusal(&self) -> Option<String> {
        if let Some(why) = &self.unwritable {
            return Some(why.clone());
        }
        self.watch.edited().then(|| journal::hand_edit_refusal(&self.path))
    }

    /// Hands a change to the journal thread, which writes it down and flushes it; the outcome
    /// arrives as [`Folded::Journalled`] with the number returned here. Once it says written,
    /// the change survives a crash: call [`Store::written`] then. One change at a time.
    pub fn write(&mut self, edits: &[Edit], token: Option<&Token>) -> Result<u64, String> {
        if let Some(why) = self.refusal() {
            return Err(why);
        }
        let seq = self.seq + 1;
        self.to_journal
            .send(journal::Job::Change { seq, edits: edits.to_vec(), token: token.cloned() })
            .map_err(|_| format!("cannot write the journal {}: the thread that writes it has stopped", journal_path(&self.path).display()))?;
        Ok(seq)
    }

    /// Change `seq` (its `edits`) is on disk: it is folded into the file in a while.
    pub fn written(&mut self, seq: u64, edits: &[Edit]) {
        self.seq = seq;
        self.pending.push((seq, edits.to_vec()));
        let _ = self.to_fold.send(FoldJob::Changes(seq, edits.to_vec()));
    }

    /// The fold thread wrote the file up to `through`: say so in the journal.
    pub fn folded(&mut self, hash: String, through: u64) {
        self.pending.retain(|(seq, _)| *seq > through);
        let _ = self.to_journal.send(journal::Job::Compacted { hash, through });
    }

    /// Starts re-reading the file, with the changes the file does not hold yet on top: on the
    /// fold thread (so that no fold runs meanwhile), which may wait on the file system as long
    /// as it takes; what it read arrives as [`Folded::Reread`]. Nothing changes until
    /// [`Store::reloaded`] says the result is in force, or [`Store::refused`] that it is not.
    pub fn reread(&self) -> Result<(), ConfigError> {
        self.to_fold.send(FoldJob::Reread).map_err(|_| ConfigError::file(&self.path.display().to_string(), "the thread that reads and writes it has stopped"))
    }

    /// Puts on top of what [`Store::reread`] read the changes accepted since it was read (the
    /// control thread goes on taking changes while the file is read): a reload never discards
    /// an accepted change.
    pub fn catch_up(&self, loaded: &mut Loaded) {
        let after = loaded.last_seq;
        for (seq, edits) in self.pending.iter().filter(|(seq, _)| *seq > after) {
            apply_all(&mut loaded.cfg, edits);
            loaded.changes.push((*seq, edits.clone()));
            loaded.last_seq = *seq;
            loaded.replayed += 1;
        }
    }

    /// The configuration `loaded` is in force: the file is the one just read, a hand edit (if
    /// there was one) is taken.
    pub fn reloaded(&mut self, loaded: &Loaded) {
        let _ = self.to_journal.send(journal::Job::Base { text_hash: text_hash(&loaded.text) });
        self.watch.set(loaded.signature, false);
        self.watch.edited.store(false, Ordering::SeqCst);
        self.pending = loaded.changes.clone();
        let _ = self.to_fold.send(FoldJob::Loaded { text: loaded.text.clone(), pending: loaded.changes.clone() });
    }

    /// The reload that [`Store::reread`] began was refused.
    pub fn refused(&self) {
        let _ = self.to_fold.send(FoldJob::Resume);
    }
}

/// Opens the journal for appending, when there is one; one that grew large is rewritten with
/// only what a load needs. A journal that does not exist yet is made by the first change.
fn open_journal(path: &Path, text: &str, tokens: &Tokens, pending: &[(u64, Vec<Edit>)]) -> std::io::Result<Option<File>> {
    const REWRITE_ABOVE: u64 = 16 << 20;
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    if meta.len() > REWRITE_ABOVE {
        let mut out = String::new();
        let base = if pending.is_empty() { text_hash(text) } else { String::new() };
        out += &serde_json::to_string(&Line::Base { base }).expect("serialises");
        out.push('\n');
        for t in tokens.iter() {
            out += &serde_json::to_string(&Line::Token { token: t.clone() }).expect("serialises");
            out.push('\n');
        }
        for (seq, edits) in pending {
            out += &serde_json::to_string(&Line::Change { seq: *seq, edits: edits.clone(), token: None }).expect("serialises");
            out.push('\n');
        }
        write_atomically(path, &out)?;
    }
    OpenOptions::new().append(true).open(path).map(Some)
}

/// A new journal, beginning with the hash of the file's text as loaded.
fn create_journal(path: &Path, base_hash: &str) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = OpenOptions::new().append(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(format!("{}\n", serde_json::to_string(&Line::Base { base: base_hash.to_owned() }).expect("serialises")).as_bytes())?;
    f.sync_all()?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        File::open(dir)?.sync_all()?;
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn lab() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("lab.toml");
        std::fs::write(&path, crate::state::testing::LAB).unwrap();
        (dir, path)
    }

    fn reread(reports: &crossbeam::channel::Receiver<Folded>) -> Result<Loaded, ConfigError> {
        loop {
            match reports.recv_timeout(Duration::from_secs(30)).expect("the fold thread answers") {
                Folded::Reread(read) => return *read,
                _ => continue,
            }
        }
    }

    /// Writes `edits` down as the control thread does: handed over, then taken once on disk.
    fn written(store: &mut Store, reports: &crossbeam::channel::Receiver<Folded>, edits: &[Edit]) -> Result<(), NotWritten> {
        let seq = store.write(edits, None).map_err(NotWritten::Failed)?;
        loop {
            match reports.recv_timeout(Duration::from_secs(30)).expect("the journal thread answers") {
                Folded::Journalled { seq: s, result } => {
                    assert_eq!(s, seq);
                    result.clone()?;
                    store.written(seq, edits);
                    return result;
                }
                _ => continue,
            }
        }
    }

    #[test]
    fn a_change_is_on_disk_once_the_journal_thread_says_so_and_a_hand_edit_stops_the_next() {
        let (_dir, path) = lab();
        let loaded = load(&path).unwrap();
        let (mut store, reports) = Store::open(&path, &loaded);
        written(&mut store, &reports, &[Edit::DeleteSession("tms-web".into())]).unwrap();
        let journal = std::fs::read_to_string(journal_path(&path)).unwrap();
        assert!(journal.lines().any(|l| l.contains("\"seq\":1") && l.contains("tms-web")), "{journal}");
        assert!(load(&path).unwrap().cfg.sessions.is_empty(), "a restart loads it");
        // A hand edit: seen by the journal thread's look before writing, nothing written.
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("# edited by hand\n{text}")).unwrap();
        let e = written(&mut store, &reports, &[Edit::DeleteFilter("tmf-all".into())]).unwrap_err();
        assert!(matches!(&e, NotWritten::HandEdited(why) if why.contains("edited by hand")), "{e:?}");
        assert_eq!(std::fs::read_to_string(journal_path(&path)).unwrap(), journal, "nothing written after the hand edit");
        assert!(store.refusal().is_some_and(|why| why.contains("reload it first")), "known without a look at the disk now");
    }

    #[test]
    fn what_a_reload_reads_arrives_among_the_fold_threads_reports() {
        let (_dir, path) = lab();
        let loaded = load(&path).unwrap();
        let (store, reports) = Store::open(&path, &loaded);
        store.reread().unwrap();
        let read = reread(&reports).unwrap();
        assert_eq!(read.cfg, loaded.cfg);
        store.refused();
    }

    #[test]
    fn changes_accepted_while_a_reload_reads_are_kept_on_top_of_what_it_read() {
        let (_dir, path) = lab();
        let loaded = load(&path).unwrap();
        let (mut store, reports) = Store::open(&path, &loaded);
        store.reread().unwrap();
        let mut read = reread(&reports).unwrap();
        // Accepted by the control thread after the file was read, before the result is taken.
        let edits = [Edit::DeleteSession("tms-web".into())];
        written(&mut store, &reports, &edits).unwrap();
        assert_eq!(read.cfg.sessions.len(), 1);
        store.catch_up(&mut read);
        assert!(read.cfg.sessions.is_empty(), "the change is on top of what the reload read");
        assert_eq!(read.replayed, 1);
        store.reloaded(&read);
        // The change reaches the file too.
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while !matches!(reports.recv_timeout(Duration::from_secs(30)), Ok(Folded::Written { .. })) {
            assert!(std::time::Instant::now() < deadline, "never folded");
        }
        assert!(!std::fs::read_to_string(&path).unwrap().contains("tms-web"));
    }
}
