//! Opening a SQLite file as a migration source: read-only, with every failure named.
//!
//! A source must never be changed by lite2pg. The file is opened read-only. A WAL database
//! that nothing has open (no `-shm`) would need a `-shm` created beside it: when its `-wal`
//! is empty it is read in place without locking (`immutable`), and the file's identity,
//! size and modification time are checked again after the reads ([`Source::check_unchanged`]),
//! so an application that wrote it meanwhile stops the run rather than mixing two moments;
//! with data in its `-wal`, the pair is copied to a private snapshot and the copy is read.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::error::{Error, Result};

/// How long to wait for another process's write lock before calling the file locked.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// An opened source database.
pub struct Source {
    /// The read-only connection.
    pub conn: Connection,
    /// The path the user named.
    pub path: PathBuf,
    /// Set when a private copy had to be opened, with why.
    pub snapshot_note: Option<String>,
    /// The file actually read: the original, or the private copy.
    pub read_path: PathBuf,
    /// Keeps a snapshot copy alive as long as the connection.
    _snapshot_dir: Option<tempfile::TempDir>,
    /// Read in place without locking: the file as it was when opened.
    in_place: Option<Stamp>,
}

/// What identifies a file's content without reading it: which file, how long, when last
/// written.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    len: u64,
    modified_ns: i128,
}

impl Stamp {
    fn of(path: &Path) -> Option<Stamp> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Stamp {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            modified_ns: i128::from(m.mtime()) * 1_000_000_000 + i128::from(m.mtime_nsec()),
        })
    }
}

/// Opens `path` read-only and checks that it is a readable SQLite database.
pub fn open_source(path: &Path) -> Result<Source> {
    let wal_mode = check_header(path)?;
    if wal_mode && !sidecar(path, "-shm").exists() {
        // Opening a WAL database in place would create -wal/-shm files beside the user's
        // file (and fails in a read-only directory). Nothing has it open: with every change
        // checkpointed into the file, read it as it is; otherwise read a copy of the pair.
        let wal_empty = std::fs::metadata(sidecar(path, "-wal")).map_or(true, |m| m.len() == 0);
        if wal_empty {
            if let Some(src) = open_in_place(path) {
                return Ok(src);
            }
        }
        return open_snapshot(path, None);
    }
    match open_checked(path) {
        Ok(conn) => Ok(Source {
            conn,
            path: path.to_path_buf(),
            read_path: path.to_path_buf(),
            snapshot_note: None,
            _snapshot_dir: None,
            in_place: None,
        }),
        Err(first) if wal_mode => open_snapshot(path, Some(first)),
        Err(e) => Err(e),
    }
}

/// Opens a WAL database nothing has open, its changes all in the file, without locking and
/// without creating anything beside it; `None` when SQLite will not (the copy is read then).
fn open_in_place(path: &Path) -> Option<Source> {
    let stamp = Stamp::of(path)?;
    let conn = open_immutable(path).ok()?;
    Some(Source {
        conn,
        path: path.to_path_buf(),
        read_path: path.to_path_buf(),
        snapshot_note: Some(
            "WAL database not open elsewhere: read in place without locking, nothing created \
             beside it, and checked unchanged once read"
                .into(),
        ),
        _snapshot_dir: None,
        in_place: Some(stamp),
    })
}

/// `path` as a SQLite URI opening it `immutable` (no locks, no `-shm`, the `-wal` ignored).
fn immutable_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut uri = String::from("file:");
    for &b in path.as_os_str().as_bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            uri.push(char::from(b));
        } else {
            uri.push_str(&format!("%{b:02X}"));
        }
    }
    uri.push_str("?immutable=1");
    uri
}

fn open_immutable(path: &Path) -> Result<Connection> {
    let uri = immutable_uri(path);
    open_with(
        Path::new(&uri),
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI,
        BUSY_TIMEOUT,
        true,
    )
    .map_err(|e| match e {
        Error::Source { problem, .. } => Error::source(path, problem),
        other => other,
    })
}

impl Source {
    /// For a file read in place without locking: an error when it changed since it was
    /// opened (an application opened and wrote it, and a checkpoint rewrote its pages while
    /// lite2pg read them). Copies and locked reads are always consistent.
    pub fn check_unchanged(&self) -> Result<()> {
        match &self.in_place {
            Some(stamp) if Stamp::of(&self.path).as_ref() != Some(stamp) => Err(Error::source(
                &self.path,
                "the file changed while lite2pg read it (an application opened and wrote it): \
                 what was read may come from two moments. Run again from the start \
                 (`--replace`) with the application stopped, or follow the live file with \
                 `lite2pg sync`",
            )),
            _ => Ok(()),
        }
    }

    /// Another read-only connection to the file this source reads (a private copy stays
    /// private; the original is opened as before), for readers on other threads.
    pub fn reopen(&self) -> Result<Connection> {
        self.reopener()()
    }

    /// [`Source::reopen`] as a function other threads can hold (a `Source` is not `Sync`).
    pub fn reopener(&self) -> impl Fn() -> Result<Connection> + Send + Sync + 'static {
        let (read, shown) = (self.read_path.clone(), self.path.clone());
        let in_place = self.in_place.is_some();
        move || {
            let conn = if in_place {
                open_immutable(&read)
            } else {
                open_checked(&read)
            };
            conn.map_err(|e| match e {
                Error::Source { problem, .. } => Error::source(&shown, problem),
                Error::Busy { problem, .. } => Error::Busy {
                    path: shown.clone(),
                    problem,
                },
                other => other,
            })
        }
    }
}

/// Opens `path` for a long read that must see one snapshot without blocking the
/// application's writers.
///
/// A WAL database is read in place: a read transaction there does not block writers. A
/// rollback-journal database would block every writer for as long as a reader holds its
/// lock, so it is first copied with SQLite's online backup (writers wait only for the copy,
/// which is reported) and the copy is read.
pub fn open_consistent(path: &Path) -> Result<Source> {
    let src = open_source(path)?;
    if src.snapshot_note.is_some() {
        return Ok(src);
    }
    let mode: String = src
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .map_err(|e| classify(path, &e))?;
    if mode.eq_ignore_ascii_case("wal") {
        return Ok(src);
    }
    let dir = tempfile::tempdir()
        .map_err(|e| Error::io("creating a temporary directory for a snapshot copy", e))?;
    let copy = dir.path().join("snapshot.db");
    let started = std::time::Instant::now();
    {
        let mut dst = Connection::open(&copy).map_err(|e| classify(&copy, &e))?;
        let backup =
            rusqlite::backup::Backup::new(&src.conn, &mut dst).map_err(|e| classify(path, &e))?;
        // All pages in one step: one read lock, one consistent image.
        loop {
            match backup.step(-1).map_err(|e| classify(path, &e))? {
                rusqlite::backup::StepResult::Done => break,
                _ => std::thread::sleep(Duration::from_millis(10)),
            }
        }
    }
    let took = started.elapsed();
    let conn = open_checked(&copy)?;
    Ok(Source {
        conn,
        path: path.to_path_buf(),
        read_path: copy,
        snapshot_note: Some(format!(
            "rollback-journal database: copied to a private snapshot in {:.2} s (the \
             application's writers waited at most that long), and the copy is read",
            took.as_secs_f64()
        )),
        _snapshot_dir: Some(dir),
        in_place: None,
    })
}

/// Opens `copy`, a consistent copy of `original` the caller made (and keeps), reporting it
/// under the original's name.
pub fn open_copy(copy: &Path, original: &Path) -> Result<Source> {
    let conn = open_checked(copy)?;
    Ok(Source {
        conn,
        path: original.to_path_buf(),
        read_path: copy.to_path_buf(),
        snapshot_note: Some(
            "read from a consistent copy taken right after change capture was armed; changes \
             since are applied by sync"
                .into(),
        ),
        _snapshot_dir: None,
        in_place: None,
    })
}

/// Copies `path` with SQLite's online backup in one step (one read transaction, so one
/// consistent image; writers of a WAL database are not blocked) to `copy`.
pub fn backup_to(path: &Path, copy: &Path) -> Result<Duration> {
    let src = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| classify(path, &e))?;
    src.busy_timeout(BUSY_TIMEOUT)
        .map_err(|e| classify(path, &e))?;
    let started = std::time::Instant::now();
    let mut dst = Connection::open(copy).map_err(|e| classify(copy, &e))?;
    let backup = rusqlite::backup::Backup::new(&src, &mut dst).map_err(|e| classify(path, &e))?;
    loop {
        match backup.step(-1).map_err(|e| classify(path, &e))? {
            rusqlite::backup::StepResult::Done => break,
            _ => std::thread::sleep(Duration::from_millis(10)),
        }
    }
    Ok(started.elapsed())
}

fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut p = path.as_os_str().to_owned();
    p.push(suffix);
    PathBuf::from(p)
}

fn open_snapshot(path: &Path, first: Option<Error>) -> Result<Source> {
    let dir = tempfile::tempdir()
        .map_err(|e| Error::io("creating a temporary directory for a WAL snapshot", e))?;
    let copy = dir.path().join("snapshot.db");
    copy_with_sidecar(path, &copy)?;
    let conn = open_checked(&copy).map_err(|e| first.unwrap_or(e))?;
    Ok(Source {
        conn,
        path: path.to_path_buf(),
        read_path: copy,
        snapshot_note: Some(
            "WAL database not open elsewhere: read from a private copy of the file and its -wal \
             sidecar, so nothing is created beside the original"
                .into(),
        ),
        _snapshot_dir: Some(dir),
        in_place: None,
    })
}

/// Checks the header; returns whether the file is in WAL mode.
fn check_header(path: &Path) -> Result<bool> {
    let mut file = std::fs::File::open(path).map_err(|e| {
        let problem = match e.kind() {
            std::io::ErrorKind::NotFound => "no such file".to_string(),
            std::io::ErrorKind::PermissionDenied => {
                "permission denied: cannot read the file".into()
            }
            _ => format!("cannot open: {e}"),
        };
        Error::source(path, problem)
    })?;
    let meta = file
        .metadata()
        .map_err(|e| Error::source(path, format!("cannot stat: {e}")))?;
    if meta.is_dir() {
        return Err(Error::source(
            path,
            "is a directory, not a SQLite database file",
        ));
    }
    if meta.len() == 0 {
        return Err(Error::source(
            path,
            "is empty (0 bytes): not a SQLite database",
        ));
    }
    let mut header = [0u8; 20];
    let n = read_up_to(&mut file, &mut header)
        .map_err(|e| Error::source(path, format!("cannot read: {e}")))?;
    if n < 20 || &header[..16] != b"SQLite format 3\0" {
        return Err(Error::source(
            path,
            "not a SQLite database (no SQLite header); if it is encrypted (e.g. SQLCipher), \
             export a plain copy first with the tool that encrypted it",
        ));
    }
    Ok(header[18] == 2)
}

fn read_up_to(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match file.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

/// Opens the application's live file read-write, for `sync`'s triggers, change log and
/// applier. `reading_only`: the connection only reads rows, so unknown collations get the
/// stand-in [`open_source`] uses; a connection that writes never does, because rows written
/// under a stand-in order could corrupt the application's indexes.
pub fn open_live(path: &Path, reading_only: bool) -> Result<Connection> {
    if !path.exists() {
        return Err(Error::source(path, "no such file"));
    }
    open_with(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE,
        Duration::from_secs(10),
        reading_only,
    )
}

fn open_checked(path: &Path) -> Result<Connection> {
    open_with(path, OpenFlags::SQLITE_OPEN_READ_ONLY, BUSY_TIMEOUT, true)
}

fn open_with(path: &Path, mode: OpenFlags, busy: Duration, stand_in: bool) -> Result<Connection> {
    let flags = mode | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(|e| classify(path, &e))?;
    conn.busy_timeout(busy).map_err(|e| classify(path, &e))?;
    // Unknown collations (Anki's `unicase`, ...) would make any statement touching the
    // column fail; register a stand-in so the data can still be read. Introspection
    // reports the collation, so nothing is silently assumed.
    if stand_in {
        conn.collation_needed(register_stand_in_collation)
            .map_err(|e| classify(path, &e))?;
    }
    // Force the schema to be read now so corruption and locks surface here, once.
    conn.query_row("SELECT count(*) FROM sqlite_master", [], |r| {
        r.get::<_, i64>(0)
    })
    .map_err(|e| classify(path, &e))?;
    Ok(conn)
}

fn register_stand_in_collation(conn: &Connection, name: &str) -> rusqlite::Result<()> {
    if name.eq_ignore_ascii_case("unicase") {
        conn.create_collation(name, |a, b| a.to_lowercase().cmp(&b.to_lowercase()))
    } else {
        conn.create_collation(name, |a, b| a.cmp(b))
    }
}

fn copy_with_sidecar(from: &Path, to: &Path) -> Result<()> {
    std::fs::copy(from, to).map_err(|e| Error::io(format!("copying {}", from.display()), e))?;
    let wal = sidecar(from, "-wal");
    if wal.exists() {
        std::fs::copy(&wal, sidecar(to, "-wal"))
            .map_err(|e| Error::io(format!("copying {}", wal.display()), e))?;
    }
    Ok(())
}

/// Turns a SQLite error into one line a user can act on.
pub fn classify(path: &Path, e: &rusqlite::Error) -> Error {
    classify_in(path, "", e)
}

/// [`classify_in`] for an error on an open connection, named by the file it has open.
pub fn classify_conn(conn: &Connection, context: &str, e: &rusqlite::Error) -> Error {
    let path = Path::new(conn.path().unwrap_or("the SQLite database"));
    classify_in(path, context, e)
}

/// The one classifier of SQLite errors, `context` saying what lite2pg was doing: a file
/// that cannot serve as a source (corrupt, not SQLite, locked, unreadable) is the user's
/// to fix (exit 2); a full disk or an I/O failure is the environment's (exit 3).
pub fn classify_in(path: &Path, context: &str, e: &rusqlite::Error) -> Error {
    use rusqlite::ErrorCode::*;
    let during = if context.is_empty() {
        String::new()
    } else {
        format!("{context}: ")
    };
    let problem = match e.sqlite_error_code() {
        Some(DatabaseCorrupt) => {
            "database disk image is malformed (corrupt file); try `sqlite3 FILE .recover` \
             into a new file and migrate that"
                .to_string()
        }
        Some(NotADatabase) => "not a SQLite database, or encrypted".to_string(),
        Some(DatabaseBusy) | Some(DatabaseLocked) => {
            return Error::Busy {
                path: path.to_path_buf(),
                problem: format!(
                    "{during}database is locked by another writer; retry when the writer is \
                     idle, or migrate from a copy made with `sqlite3 FILE .backup`"
                ),
            };
        }
        Some(CannotOpen) => {
            "cannot open the file (missing, or its directory is not readable)".into()
        }
        Some(PermissionDenied) => "permission denied".into(),
        Some(DiskFull) | Some(SystemIoFailure) | Some(OutOfMemory) => {
            return Error::Environment(format!("{}: {during}{e}", path.display()));
        }
        // The context says what was being done (a write, often); without one it was a read.
        _ if !context.is_empty() => e.to_string(),
        _ => format!("cannot read: {e}"),
    };
    Error::source(path, format!("{during}{problem}"))
}
