//! Files kept safe: no command writes over its input, a device or a directory, or a file it
//! was not given, and a failed write names the user's path and leaves nothing behind.

use std::path::Path;
use std::process::Output;

mod common;
use common::{s, scratch, stderr, zksim};

/// The sorted file names in `dir`.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// A passing election trace of seed 1 at `path`.
fn trace_at(path: &Path) {
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election",
        "--seed",
        "1",
        "--trace",
        s(path),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Asserts the command exited 2 with an error naming `flag` and `path`.
fn refused(o: &Output, flag: &str, path: &Path) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains(flag), "names {flag}: {err}");
    assert!(err.contains(s(path)), "names {}: {err}", path.display());
}

// Goal: `render t.jsonl --html t.jsonl` is refused and leaves the trace as it was.
#[test]
fn render_refuses_to_write_its_page_over_the_trace() {
    let dir = scratch("render");
    let trace = dir.join("t.jsonl");
    trace_at(&trace);
    let before = std::fs::read(&trace).unwrap();
    let o = zksim(&["render", s(&trace), "--html", s(&trace)]);
    refused(&o, "--html", &trace);
    assert_eq!(std::fs::read(&trace).unwrap(), before);
    // The same file by another spelling is still the input.
    let dotted = dir.join(".").join("t.jsonl");
    refused(
        &zksim(&["render", s(&trace), "--html", s(&dotted)]),
        "--html",
        &dotted,
    );
    assert_eq!(std::fs::read(&trace).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: `run s.toml --trace s.toml` is refused and leaves the scenario as it was.
#[test]
fn run_refuses_to_write_its_trace_over_the_scenario() {
    let dir = scratch("run");
    let scenario = dir.join("s.toml");
    std::fs::copy(
        format!("{}/scenarios/walkthrough.toml", env!("CARGO_MANIFEST_DIR")),
        &scenario,
    )
    .unwrap();
    let before = std::fs::read(&scenario).unwrap();
    let o = zksim(&["run", s(&scenario), "--trace", s(&scenario)]);
    refused(&o, "--trace", &scenario);
    assert!(o.stdout.is_empty(), "nothing ran");
    assert_eq!(std::fs::read(&scenario).unwrap(), before);
    // A scenario found by expanding its directory counts as an input too.
    let o = zksim(&["run", s(&dir), "--trace", s(&scenario)]);
    refused(&o, "--trace", &scenario);
    assert_eq!(std::fs::read(&scenario).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: `shrink t -o L`, where L is a symbolic link to t, is refused and t is unchanged.
#[cfg(unix)]
#[test]
fn shrink_refuses_an_output_that_links_to_its_input() {
    let dir = scratch("shrink");
    let input = dir.join("in.jsonl");
    std::fs::copy(
        format!(
            "{}/scenarios/regressions/election-resign-blind-delete.seed-10.jsonl",
            env!("CARGO_MANIFEST_DIR")
        ),
        &input,
    )
    .unwrap();
    let before = std::fs::read(&input).unwrap();
    let link = dir.join("link.jsonl");
    std::os::unix::fs::symlink("in.jsonl", &link).unwrap();
    refused(&zksim(&["shrink", s(&input), "-o", s(&link)]), "-o", &link);
    assert_eq!(std::fs::read(&input).unwrap(), before);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: `record dir/x.json -o dir` is refused before any server starts (the java given does
// not exist, so nothing could have started) and the script is unchanged.
#[test]
fn record_refuses_to_write_a_transcript_over_its_script() {
    let dir = scratch("record");
    let script = dir.join("x.json");
    std::fs::write(&script, r#"{"name": "x", "steps": []}"#).unwrap();
    let before = std::fs::read(&script).unwrap();
    let o = zksim(&[
        "record",
        s(&script),
        "-o",
        s(&dir),
        "--java",
        "/nonexistent/java",
    ]);
    refused(&o, "-o", &script);
    assert!(!stderr(&o).contains("FAILED"), "no script was tried");
    assert_eq!(std::fs::read(&script).unwrap(), before);
    assert_eq!(names(&dir), ["x.json"]);
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a device node or a directory as an output is refused before any work and left as
// it is, for every command that writes one.
#[test]
fn a_device_or_a_directory_is_never_an_output() {
    let dir = scratch("special");
    let trace = dir.join("t.jsonl");
    trace_at(&trace);
    let null = Path::new("/dev/null");
    for out in [null, dir.as_path()] {
        let o = zksim(&[
            "simulate",
            "--recipe",
            "election",
            "--seed",
            "1",
            "--trace",
            s(out),
        ]);
        refused(&o, "--trace", out);
        assert!(o.stdout.is_empty(), "nothing ran");
        refused(
            &zksim(&["render", s(&trace), "--html", s(out)]),
            "--html",
            out,
        );
        refused(&zksim(&["shrink", s(&trace), "-o", s(out)]), "-o", out);
        let o = zksim(&["check", "--recipe", "election", "--svg", s(out)]);
        refused(&o, "--svg", out);
    }
    assert!(dir.is_dir());
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        let kind = std::fs::metadata(null).unwrap().file_type();
        assert!(kind.is_char_device(), "/dev/null is still a device");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a file named as older versions named their temporary file (`X.tmp-zksim`) is
// neither replaced when X is written nor lost when it is the input.
#[test]
fn an_unrelated_tmp_zksim_file_survives() {
    let dir = scratch("tmp-name");
    let mine = dir.join("t.tmp-zksim");
    std::fs::write(&mine, "not zksim's").unwrap();
    trace_at(&dir.join("t.jsonl"));
    assert_eq!(std::fs::read_to_string(&mine).unwrap(), "not zksim's");
    // A trace of that name, rendered to a page beside it, is still there afterwards.
    let input = dir.join("u.tmp-zksim");
    trace_at(&input);
    let before = std::fs::read(&input).unwrap();
    let o = zksim(&["render", s(&input), "--html", s(&dir.join("u.html"))]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    assert_eq!(
        names(&dir),
        ["t.jsonl", "t.tmp-zksim", "u.html", "u.tmp-zksim"]
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a write that fails (a missing directory, a read-only one) exits 2 naming the
// user's path, not a temporary file, and leaves no file behind.
#[test]
fn a_failed_write_names_the_users_path_and_leaves_nothing() {
    let dir = scratch("fail");
    let missing = dir.join("missing").join("t.jsonl");
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election",
        "--seed",
        "1",
        "--trace",
        s(&missing),
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&format!("cannot write {}", missing.display())),
        "{err}"
    );
    assert!(!err.contains(".tmp"), "no temporary name: {err}");
    assert!(names(&dir).is_empty());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let locked = dir.join("locked");
        std::fs::create_dir(&locked).unwrap();
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o555)).unwrap();
        // Root writes into a read-only directory anyway: only test what can fail.
        let probe = locked.join("probe");
        if std::fs::write(&probe, "").is_err() {
            let out = locked.join("t.jsonl");
            let o = zksim(&[
                "simulate",
                "--recipe",
                "election",
                "--seed",
                "1",
                "--trace",
                s(&out),
            ]);
            let err = stderr(&o);
            assert_eq!(o.status.code(), Some(2), "{err}");
            assert!(
                err.contains(&format!("cannot write {}", out.display())),
                "{err}"
            );
            assert!(!err.contains(".tmp"), "no temporary name: {err}");
            assert!(names(&locked).is_empty());
        } else {
            std::fs::remove_file(&probe).unwrap();
        }
        std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
