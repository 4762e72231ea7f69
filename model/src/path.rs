//! Znode paths and ZooKeeper's validation of them.
//!
//! The server checks paths differently per operation (see `PrepRequestProcessor` and
//! `FinalRequestProcessor`), so this module offers the pieces and the server applies them in
//! its own order: [`validate`] is `PathUtils.validatePath`; [`parent_of`] is the
//! `lastIndexOf('/')` split the server does *before* validating a create (so `/missing/` is a
//! NoNode, not a BadArguments).

/// Why a path is invalid (the message the Java client would print).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InvalidPath {
    /// What is wrong.
    pub reason: &'static str,
    /// Byte offset of the offending part, where one applies.
    pub at: Option<usize>,
}

/// `PathUtils.validatePath`: absolute, no empty component, no `.`/`..` component, no trailing
/// `/` (except the root), and none of the characters ZooKeeper rejects.
pub fn validate(path: &str) -> Result<(), InvalidPath> {
    let bad = |reason, at| {
        Err(InvalidPath {
            reason,
            at: Some(at),
        })
    };
    if path.is_empty() {
        return Err(InvalidPath {
            reason: "path length must be > 0",
            at: None,
        });
    }
    if !path.starts_with('/') {
        return bad("path must start with / character", 0);
    }
    if path == "/" {
        return Ok(());
    }
    if path.ends_with('/') {
        return bad("path must not end with / character", path.len() - 1);
    }
    for (offset, component) in components_with_offsets(path) {
        match component {
            "" => return bad("empty node name specified", offset),
            "." | ".." => return bad("relative paths not allowed", offset),
            _ => {}
        }
    }
    for (i, c) in path.char_indices() {
        if c == '\0' {
            return bad("null character not allowed", i);
        }
        if is_rejected_char(c) {
            return bad("invalid character", i);
        }
    }
    Ok(())
}

/// The characters `PathUtils.validatePath` rejects, as UTF-16 code units: U+0001–U+001F,
/// U+007F–U+009F, U+D800–U+F8FF (so every surrogate, hence every char at or above U+10000) and
/// U+FFF0–U+FFFF. (U+0000 is reported separately.)
fn is_rejected_char(c: char) -> bool {
    let c = c as u32;
    (0x01..=0x1f).contains(&c)
        || (0x7f..=0x9f).contains(&c)
        || (0xd800..=0xf8ff).contains(&c)
        || (0xfff0..=0xffff).contains(&c)
        || c >= 0x1_0000
}

fn components_with_offsets(path: &str) -> impl Iterator<Item = (usize, &str)> {
    path[1..].split('/').scan(1usize, |offset, comp| {
        let at = *offset;
        *offset += comp.len() + 1;
        Some((at, comp))
    })
}

/// The server's parent split: everything before the last `/`, with `""` standing for the root
/// (as in ZooKeeper's DataTree, where the root is stored under both `""` and `"/"`). `None` when
/// the path has no `/` at all.
pub fn parent_of(path: &str) -> Option<&str> {
    path.rfind('/').map(|i| &path[..i])
}

/// The last component of a path (the child's name under its parent).
pub fn name_of(path: &str) -> &str {
    path.rfind('/').map_or(path, |i| &path[i + 1..])
}

/// The key a node is stored under: the root is `"/"`, every other node its full path.
/// Maps the server's internal `""` (the root, as [`parent_of`] yields it) to `"/"`.
pub fn node_key(path: &str) -> &str {
    if path.is_empty() {
        "/"
    } else {
        path
    }
}

/// Joins a parent path and a child name.
pub fn join(parent: &str, name: &str) -> String {
    if parent == "/" {
        format!("/{name}")
    } else {
        format!("{parent}/{name}")
    }
}

/// The ancestors of a path, nearest first, ending with `/`. The root has none.
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    let mut rest = if path == "/" { None } else { Some(path) };
    std::iter::from_fn(move || {
        let p = rest?;
        let parent = node_key(parent_of(p)?);
        rest = if parent == "/" { None } else { Some(parent) };
        Some(parent)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    // Checklist items 1 to 3: the shapes and characters validatePath accepts and rejects.
    #[test]
    fn validate_accepts_and_rejects_as_zookeeper_does() {
        for ok in [
            "/", "/a", "/a/b", "/a/...", "/a/.b", "/a/b.", "/ a", "/..a", "/é", "/中", "/a\u{a0}",
        ] {
            assert_eq!(validate(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            "a",
            "/a/",
            "//a",
            "/a//b",
            "/a/.",
            "/a/..",
            "/./a",
            "/\u{0}",
            "/\u{1}",
            "/\u{7f}",
            "/\u{9f}",
            "/\u{e000}",
            "/\u{fff0}",
            "/\u{1F600}",
        ] {
            assert!(validate(bad).is_err(), "{bad:?}");
        }
    }

    // The parent split is textual, before any validation, with "" for the root.
    #[test]
    fn parent_split_is_the_servers() {
        assert_eq!(parent_of("/a"), Some(""));
        assert_eq!(parent_of("/a/b"), Some("/a"));
        assert_eq!(parent_of("/missing/"), Some("/missing"));
        assert_eq!(parent_of("/p//x"), Some("/p/"));
        assert_eq!(parent_of("a"), None);
        assert_eq!(name_of("/a/b"), "b");
        assert_eq!(ancestors("/a/b/c").collect::<Vec<_>>(), ["/a/b", "/a", "/"]);
        assert_eq!(ancestors("/").count(), 0);
    }
}
