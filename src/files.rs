//! The files a command writes: checked against its inputs before any work, then written
//! through [`write()`] (a unique temporary file in the same directory, synced, renamed over
//! the target), so no command ever destroys its input, a device node or a file it did not name.
//!
//! ```
//! use std::path::Path;
//! let dir = std::env::temp_dir().join(format!("zksim-cli-files-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let trace = dir.join("t.jsonl");
//! std::fs::write(&trace, "{}").unwrap();
//! let err = zksim::files::check_outputs(&[("--html", &trace)], &[&trace]).unwrap_err();
//! assert!(err.starts_with("--html: "), "{err}");
//! let err = zksim::files::check_outputs(&[("--trace", Path::new("/dev/null"))], &[]);
//! assert!(err.unwrap_err().contains("not a regular file"));
//! let page = dir.join("t.html");
//! zksim::files::check_outputs(&[("--html", &page)], &[&trace]).unwrap();
//! zksim::files::write(&page, "<html>").unwrap();
//! std::fs::remove_dir_all(&dir).unwrap();
//! ```

use std::path::{Path, PathBuf};

pub use zksim_sim::files::{read_text, write};

/// Refuses (an error naming the flag and the path, exit 2) an output that would destroy
/// something: one that exists and is not a regular file (a directory, `/dev/null`), one that
/// is the same file as one of `inputs` (by device and inode when both exist, so a hard link
/// or a symbolic link counts too), or one that another output names as well. `outputs` are
/// pairs of the flag that names the output (`--trace`, or `-o DIR` for a file in DIR) and
/// its path. Runs before any work, so a refused command has done nothing.
pub fn check_outputs(outputs: &[(&str, &Path)], inputs: &[&Path]) -> Result<(), String> {
    for (i, &(flag, out)) in outputs.iter().enumerate() {
        if let Some(what) = zksim_sim::files::not_regular(out) {
            return Err(format!(
                "{flag}: {} is {what}; give the path of a file to write",
                out.display()
            ));
        }
        if let Some(input) = inputs.iter().find(|input| same_file(out, input)) {
            return Err(format!(
                "{flag}: {} is the input {}; refusing to write over it (give another path)",
                out.display(),
                input.display()
            ));
        }
        if let Some((other, _)) = outputs[..i].iter().find(|(_, o)| same_file(out, o)) {
            return Err(format!(
                "{flag}: {} is also the output of {other}; give each output its own path",
                out.display()
            ));
        }
    }
    Ok(())
}

/// Whether two paths name one file: the same device and inode when both exist, else the
/// same place once the directories are resolved (for outputs that do not exist yet).
fn same_file(a: &Path, b: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(ma), Ok(mb)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return (ma.dev(), ma.ino()) == (mb.dev(), mb.ino());
        }
    }
    match (place(a), place(b)) {
        (Some(x), Some(y)) => x == y,
        _ => false,
    }
}

/// Where a path points, with its directory resolved: the file need not exist.
fn place(path: &Path) -> Option<PathBuf> {
    if let Ok(real) = path.canonicalize() {
        return Some(real);
    }
    let name = path.file_name()?;
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    dir.canonicalize().ok().map(|d| d.join(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("zksim-cli-files-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    // Goal: an output that is an input is refused however it is spelled: the same path, a
    // path through `..`, a hard link.
    #[test]
    fn an_output_that_is_an_input_is_refused_however_it_is_spelled() {
        let dir = scratch("same");
        let input = dir.join("t.jsonl");
        std::fs::write(&input, "x").unwrap();
        std::fs::create_dir(dir.join("sub")).unwrap();
        let dotted = dir.join("sub/../t.jsonl");
        std::fs::hard_link(&input, dir.join("hard")).unwrap();
        for out in [input.clone(), dotted, dir.join("hard")] {
            let err = check_outputs(&[("--html", &out)], &[&input]).unwrap_err();
            assert!(err.starts_with("--html: "), "{err}");
            assert!(err.contains("refusing to write over it"), "{err}");
        }
        check_outputs(&[("--html", &dir.join("t.html"))], &[&input]).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: two outputs naming one new file are refused, naming both flags.
    #[test]
    fn two_outputs_of_one_path_are_refused() {
        let dir = scratch("twice");
        let g = dir.join("g");
        let err = check_outputs(&[("--dot", &g), ("--svg", &dir.join("./g"))], &[]).unwrap_err();
        assert!(err.starts_with("--svg: "), "{err}");
        assert!(err.contains("also the output of --dot"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    // Goal: a directory is refused as an output, naming it.
    #[test]
    fn a_directory_is_refused_as_an_output() {
        let dir = scratch("dir");
        let err = check_outputs(&[("--trace", &dir)], &[]).unwrap_err();
        assert!(err.contains("is a directory"), "{err}");
        assert!(err.contains(&dir.display().to_string()), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
