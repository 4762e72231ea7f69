//! The README, run as written: every shell block, in the order the page gives them, on a scratch
//! directory, with the `zksim` this build made first on the `PATH`. A block marked
//! `<!-- readme-test: skip (why) -->` on the line before its fence is left out (the two
//! commands themselves, a live server, a benchmark). A command fails the test if it exits 2
//! (bad input: a file the page has not made yet, a flag that is gone), panics, is not found,
//! or runs past five minutes; exit 1 (a violation found, traces that differ) and 3 (incomplete)
//! are outcomes the page may show. A line of a block that starts with `#` is output the
//! command before it must print: some line of its output must hold the text, where `...`
//! stands for anything.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A command of a block and the output lines it must print.
struct Step {
    line: usize,
    command: String,
    expected: Vec<(usize, String)>,
}

/// The shell blocks of `text`, each as its steps; skipped blocks left out.
fn blocks(text: &str) -> Vec<Vec<Step>> {
    let lines: Vec<&str> = text.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_end() != "```sh" {
            i += 1;
            continue;
        }
        let skipped = i > 0
            && lines[i - 1]
                .trim_start()
                .starts_with("<!-- readme-test: skip");
        let mut steps: Vec<Step> = Vec::new();
        i += 1;
        while i < lines.len() && lines[i].trim_end() != "```" {
            let line = lines[i];
            if let Some(expected) = line.strip_prefix('#') {
                let step = steps
                    .last_mut()
                    .unwrap_or_else(|| panic!("README.md:{}: output before any command", i + 1));
                step.expected.push((i + 1, expected.trim().to_string()));
                i += 1;
                continue;
            }
            let start = i;
            let mut command = String::new();
            // A line ending in a backslash goes on to the next.
            loop {
                let l = lines[i];
                match l.strip_suffix('\\') {
                    Some(head) => {
                        command.push_str(head);
                        command.push(' ');
                        i += 1;
                    }
                    None => {
                        command.push_str(l);
                        i += 1;
                        break;
                    }
                }
            }
            if !command.trim().is_empty() {
                steps.push(Step {
                    line: start + 1,
                    command,
                    expected: Vec::new(),
                });
            }
        }
        i += 1;
        if !skipped {
            out.push(steps);
        }
    }
    out
}

/// Whether some line of `output` holds `expected`'s parts, in order (`...` between them).
fn shows(output: &str, expected: &str) -> bool {
    let parts: Vec<&str> = expected
        .split("...")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect();
    output.lines().any(|line| {
        let mut rest = line;
        parts.iter().all(|part| match rest.find(part) {
            Some(at) => {
                rest = &rest[at + part.len()..];
                true
            }
            None => false,
        })
    })
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

/// Runs `command` with bash in `dir`: its exit code (`None`: killed by a signal or the time
/// limit) and its output, standard output then standard error.
fn run(command: &str, dir: &Path, n: usize) -> (Option<i32>, String) {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_zksim"));
    let path = format!(
        "{}:{}",
        bin.parent().unwrap().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let (out, err) = (dir.join(format!(".out-{n}")), dir.join(format!(".err-{n}")));
    let mut child = Command::new("bash")
        .arg("-c")
        .arg(command)
        .current_dir(dir)
        .env("PATH", path)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .expect("bash runs");
    let mut waited = Duration::ZERO;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if waited > Duration::from_secs(300) {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
        waited += Duration::from_millis(20);
    };
    let text = std::fs::read_to_string(&out).unwrap() + &std::fs::read_to_string(&err).unwrap();
    (status.and_then(|s| s.code()), text)
}

// Goal: a newcomer who runs the README's blocks in order meets no error and sees the output
// the page shows.
#[test]
fn the_readme_runs_as_written() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("README.md")).unwrap();
    let dir = std::env::temp_dir().join(format!("zksim-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    copy_dir(&root.join("scenarios"), &dir.join("scenarios"));
    let mut failures = Vec::new();
    let mut n = 0;
    for steps in blocks(&text) {
        for step in steps {
            n += 1;
            let (code, output) = run(&step.command, &dir, n);
            let place = format!("README.md:{}: `{}`", step.line, step.command.trim());
            if !matches!(code, Some(0 | 1 | 3)) {
                let tail: Vec<&str> = output.lines().rev().take(5).collect();
                failures.push(format!(
                    "{place} exited {code:?}:\n    {}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n    ")
                ));
            }
            for (line, expected) in &step.expected {
                if !shows(&output, expected) {
                    failures.push(format!(
                        "{place}: README.md:{line} shows `{expected}`, which it did not print"
                    ));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

// Goal: the reader of the page above parses what it must: a skipped block, a continued line,
// expected output with `...`; and `shows` matches parts in order only.
#[test]
fn blocks_and_expected_output_are_read_as_the_page_means_them() {
    let page = "text\n<!-- readme-test: skip (long) -->\n```sh\nnever\n```\n```sh\na \\\n  b\n# out ... x\nc\n```\n";
    let b = blocks(page);
    assert_eq!(b.len(), 1);
    assert_eq!(b[0].len(), 2);
    assert_eq!(
        b[0][0].command.split_whitespace().collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert_eq!(b[0][0].line, 7);
    assert_eq!(b[0][0].expected, vec![(9, "out ... x".to_string())]);
    assert!(shows("one\nout and then x\n", "out ... x"));
    assert!(!shows("x then out\n", "out ... x"));
    assert!(!shows("out\nx\n", "out ... x"));
}
