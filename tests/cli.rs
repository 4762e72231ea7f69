//! The command line, as a user drives it: exit codes, summaries, and the reproduce command.

use std::process::{Command, Output};

fn zksim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zksim"))
        .args(args)
        .output()
        .expect("zksim runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

// Goal: a passing range exits 0 and its JSON summary carries runs, events and failures.
#[test]
fn simulate_json_reports_runs_events_and_failures() {
    let o = zksim(&[
        "simulate", "--recipe", "election", "--seeds", "0..50", "--json",
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["runs"], 50);
    assert_eq!(v["failures"], 0);
    assert!(v["events"].as_u64().unwrap() > 1000);
}

// Goal: a failing mutant exits 1 and prints a command that reproduces the failure, whose
// trace then replays byte for byte and renders.
#[test]
fn a_failure_prints_a_command_that_reproduces_it() {
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election-assume-leader",
        "--seeds",
        "0..200",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let text = stdout(&o);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("reproduce: "))
        .expect("a reproduce line");
    let dir = std::env::temp_dir().join(format!("zksim-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut args: Vec<String> = line
        .trim_start()
        .trim_start_matches("reproduce: zksim ")
        .split(' ')
        .map(String::from)
        .collect();
    let trace = dir.join("failure.jsonl");
    let at = args.iter().position(|a| a == "--trace").unwrap();
    args[at + 1] = trace.display().to_string();
    let again = Command::new(env!("CARGO_BIN_EXE_zksim"))
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(
        again.status.code(),
        Some(1),
        "the reproduction fails the same way"
    );
    let replayed = zksim(&["replay", trace.to_str().unwrap()]);
    assert_eq!(
        replayed.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&replayed.stderr)
    );
    assert!(stdout(&replayed).contains("byte-identical"));
    assert!(stdout(&replayed).contains("violated: a leader with a live session owns /master"));
    let rendered = zksim(&["render", trace.to_str().unwrap()]);
    assert!(stdout(&rendered).contains("create -e /master"));
    assert!(stdout(&rendered).contains("# VIOLATED after step"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: bad flags and bad files get a clear error and exit 2, never a panic.
#[test]
fn bad_input_is_refused_with_exit_2() {
    let cases: [(&[&str], &str); 4] = [
        (&["simulate", "--seeds", "5..2"], "is empty"),
        (
            &["simulate", "--recipe", "nope", "--seed", "1"],
            "unknown recipe \"nope\"",
        ),
        (
            &["replay", "/nonexistent/trace.jsonl"],
            "/nonexistent/trace.jsonl",
        ),
        (
            &["simulate", "--time", "sideways", "--seed", "1"],
            "expected `timed` or `abstract`",
        ),
    ];
    for (args, wanted) in cases {
        let o = zksim(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(wanted), "{args:?}: {err}");
    }
}

// Goal: the recipe list names every recipe with its kind, and each mutant its property.
#[test]
fn recipes_json_lists_kinds_and_broken_properties() {
    let o = zksim(&["recipes", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let list = v.as_array().unwrap();
    assert!(list
        .iter()
        .any(|r| r["name"] == "election" && r["kind"] == "variant"));
    for r in list.iter().filter(|r| r["kind"] == "mutant") {
        assert!(r["breaks"].is_string(), "{r}");
    }
}

// Goal: which properties a run checks is part of its options: an unknown name is refused,
// and at-least-once execution stops counting a twice-written status as a violation.
#[test]
fn run_options_choose_the_properties_checked() {
    let o = zksim(&[
        "simulate",
        "--recipe",
        "fixed",
        "--seed",
        "1",
        "--uncheck",
        "no such property",
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("has no property \"no such property\""));
    let strict = zksim(&["simulate", "--recipe", "client-resubmits", "--seed", "3"]);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "the recorded counterexample fails"
    );
    let lenient = zksim(&[
        "simulate",
        "--recipe",
        "client-resubmits",
        "--seed",
        "3",
        "--at-least-once",
    ]);
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
}
