//! Writing a file so that a failure never destroys anything: the one way zksim writes a file
//! a user reads (traces, shrunk traces, pages, graphs, transcripts, failing plans); and
//! [`read_text`], the one way it reads an input file (scenarios, traces, scripts,
//! transcripts), naming the line and byte of anything that is not UTF-8.
//!
//! ```
//! let dir = std::env::temp_dir().join(format!("zksim-files-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let path = dir.join("out.txt");
//! zksim_sim::files::write(&path, "one").unwrap();
//! zksim_sim::files::write(&path, "two").unwrap();
//! assert_eq!(std::fs::read_to_string(&path).unwrap(), "two");
//! // A directory is never replaced by a file, and the error names the path given.
//! let err = zksim_sim::files::write(&dir, "x").unwrap_err().to_string();
//! assert!(err.contains(&dir.display().to_string()), "{err}");
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{InputError, WriteError};

/// Reads an input file as text; an error names the file and, for bytes that are not UTF-8,
/// the line and byte offset of the first (`s.toml:3: invalid UTF-8 at byte offset 41 ...`).
///
/// ```
/// let dir = std::env::temp_dir().join(format!("zksim-read-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("s.toml");
/// std::fs::write(&path, b"seed = 1\nname = \"\xff\"\n").unwrap();
/// let err = zksim_sim::files::read_text(&path).unwrap_err().to_string();
/// assert!(err.ends_with("s.toml:2: invalid UTF-8 at byte offset 17 (8 bytes into the line): \
///                        the file must be UTF-8 text"), "{err}");
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn read_text(path: &Path) -> Result<String, InputError> {
    let file = path.display().to_string();
    match std::fs::read(path) {
        Ok(bytes) => utf8(bytes, &file),
        Err(error) => Err(InputError::Io { file, error }),
    }
}

/// `bytes` as text, or where they stop being UTF-8; `file` names them in the error.
pub fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, InputError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let before = &e.as_bytes()[..offset];
        let line_start = before
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| i + 1);
        InputError::NotUtf8 {
            file: file.to_string(),
            line: before.iter().filter(|&&b| b == b'\n').count() + 1,
            offset,
            column: offset - line_start,
        }
    })
}

/// Why an existing `path` must not be written, if it is not a regular file (a directory, a
/// device node such as `/dev/null`, a FIFO, a socket): renaming a new file over it would
/// replace the device by a file, and writing into it in place is not atomic.
/// `None` for a regular file, a symbolic link to one, or a path that does not exist.
pub fn not_regular(path: &Path) -> Option<&'static str> {
    let meta = std::fs::metadata(path).ok()?;
    let kind = meta.file_type();
    if kind.is_file() {
        None
    } else if kind.is_dir() {
        Some("a directory")
    } else {
        Some("not a regular file")
    }
}

/// Writes `bytes` to `path` through a temporary file of a unique name in the same directory,
/// synced to disk and then renamed over `path`. The old file stays whole until the rename (a
/// full disk or a kill leaves it as it was); on an error the temporary file is removed and
/// the error names `path`, not the temporary file. A symbolic link is followed (its target is
/// replaced, the link stays); an existing `path` that is not a regular file is refused. A
/// replaced file keeps its permissions; a new one gets the usual `0o666` less the umask.
pub fn write(path: &Path, bytes: impl AsRef<[u8]>) -> Result<(), WriteError> {
    let io = |error: std::io::Error| WriteError::Io {
        path: path.to_path_buf(),
        error,
    };
    if let Some(what) = not_regular(path) {
        return Err(WriteError::NotRegular {
            path: path.to_path_buf(),
            what,
        });
    }
    let target = resolved(path);
    let dir = match target.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = target.file_name().ok_or_else(|| WriteError::NoFileName {
        path: path.to_path_buf(),
    })?;
    let mut prefix = std::ffi::OsString::from(".");
    prefix.push(name);
    prefix.push(".");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".tmp");
    if let Some(mode) = std::fs::metadata(&target)
        .ok()
        .map(|m| m.permissions())
        .or_else(default_permissions)
    {
        builder.permissions(mode);
    }
    // The temporary file removes itself when dropped, so every early return cleans up.
    let mut tmp = builder.tempfile_in(&dir).map_err(io)?;
    tmp.write_all(bytes.as_ref()).map_err(io)?;
    tmp.as_file().sync_all().map_err(io)?;
    tmp.persist(&target).map_err(|e| io(e.error))?;
    sync_dir(&dir);
    Ok(())
}

/// What went wrong, without the temporary file's name that tempfile appends to its errors
/// (`... at path "dir/.x.ab12.tmp"`, and the inner error is not reachable as a source): the
/// user never named that file.
pub(crate) fn cause(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at path \"") {
        Some(at) if e.get_ref().is_some() => text[..at].to_string(),
        _ => text,
    }
}

/// The file a path names: a symbolic link's target, or the path itself.
fn resolved(path: &Path) -> PathBuf {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
    if is_link {
        path.canonicalize().unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    }
}

/// The mode of a new file: tempfile's own is private (`0o600`), where a new output should be
/// what `std::fs::write` makes.
#[cfg(unix)]
fn default_permissions() -> Option<std::fs::Permissions> {
    use std::os::unix::fs::PermissionsExt;
    // open(2) applies the umask to this mode, as it does for `std::fs::write`.
    Some(std::fs::Permissions::from_mode(0o666))
}

#[cfg(not(unix))]
fn default_permissions() -> Option<std::fs::Permissions> {
    None
}

/// Makes the rename itself durable. Best effort: the file is in place whatever this returns,
/// and some file systems refuse to sync a directory.
fn sync_dir(dir: &Path) {
    #[cfg(unix)]
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    #[cfg(not(unix))]
    let _ = dir;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("zksim-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }

    // Goal: a second write replaces the first, and nothing but the file is left.
    #[test]
    fn a_write_replaces_the_file_and_leaves_no_temporary_file() {
        let dir = scratch("replace");
        let p = dir.join("t.json");
        write(&p, "one").unwrap();
        write(&p, b"two").unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "two");
        assert_eq!(names(&dir), ["t.json"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: a file that merely has the name an older zksim used for its temporary file
    // survives.
    #[test]
    fn a_file_named_like_a_temporary_file_survives() {
        let dir = scratch("sibling");
        std::fs::write(dir.join("t.tmp-zksim"), "mine").unwrap();
        write(&dir.join("t.jsonl"), "trace").unwrap();
        assert_eq!(
            std::fs::read_to_string(dir.join("t.tmp-zksim")).unwrap(),
            "mine"
        );
        assert_eq!(names(&dir), ["t.jsonl", "t.tmp-zksim"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: a write into a missing directory fails naming the path given.
    #[test]
    fn a_failed_write_names_the_path_given() {
        let dir = scratch("missing");
        let p = dir.join("missing/x.json");
        let err = write(&p, "x").unwrap_err().to_string();
        assert!(err.contains(&p.display().to_string()), "{err}");
        assert!(!err.contains(".tmp"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: a directory and a device node are refused, and left as they are.
    #[test]
    fn a_directory_or_a_device_is_never_replaced() {
        let dir = scratch("special");
        assert_eq!(not_regular(&dir), Some("a directory"));
        assert!(write(&dir, "x").is_err());
        assert!(dir.is_dir());
        #[cfg(unix)]
        {
            let null = Path::new("/dev/null");
            assert_eq!(not_regular(null), Some("not a regular file"));
            assert!(write(null, "x")
                .unwrap_err()
                .to_string()
                .contains("/dev/null"));
        }
        assert_eq!(not_regular(&dir.join("new")), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: writing through a symbolic link replaces its target and keeps the link.
    #[cfg(unix)]
    #[test]
    fn a_symbolic_link_is_followed() {
        let dir = scratch("link");
        std::fs::write(dir.join("real"), "old").unwrap();
        std::os::unix::fs::symlink("real", dir.join("link")).unwrap();
        write(&dir.join("link"), "new").unwrap();
        assert_eq!(std::fs::read_to_string(dir.join("real")).unwrap(), "new");
        assert!(std::fs::symlink_metadata(dir.join("link"))
            .unwrap()
            .file_type()
            .is_symlink());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: a replaced file keeps its mode; a new one gets the mode `std::fs::write` gives.
    #[cfg(unix)]
    #[test]
    fn permissions_are_kept_or_the_usual_ones() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        let mode_of = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        let p = dir.join("m");
        write(&p, "a").unwrap();
        std::fs::write(dir.join("plain"), "a").unwrap();
        assert_eq!(mode_of(&p), mode_of(&dir.join("plain")));
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o640)).unwrap();
        write(&p, "b").unwrap();
        assert_eq!(mode_of(&p), 0o640);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
