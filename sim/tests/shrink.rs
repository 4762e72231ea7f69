//! Shrinking failing traces: smaller, failing the same property, replayable, deterministic;
//! and refusing what cannot be shrunk with an error that says why.

use std::path::Path;

use zksim_sim::options::{Options, TimeMode};
use zksim_sim::recipes;
use zksim_sim::run::{replay, simulate};
use zksim_sim::shrink::shrink;
use zksim_sim::trace;

fn regression(name: &str) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../scenarios/regressions")
        .join(name);
    std::fs::read_to_string(&path).unwrap()
}

fn first_violation(text: &str) -> String {
    let t = trace::parse(text).unwrap();
    t.end.unwrap().violations[0].property.clone()
}

/// The first failing seed of a recipe in abstract time, as a trace.
fn abstract_failure(recipe: &str) -> String {
    let recipe = recipes::find(recipe).unwrap();
    let options = Options {
        time: TimeMode::Abstract,
        ..Options::default()
    };
    (0..500)
        .map(|seed| simulate(&recipe, &options, seed, false, true).unwrap())
        .find(|o| !o.end.violations.is_empty())
        .and_then(|o| o.text)
        .expect("the mutant fails some seed")
}

// Goal: a recorded mutant failure (timed) shrinks to fewer steps that still break the same
// property, and the result replays byte for byte.
#[test]
fn a_timed_mutant_failure_shrinks_to_a_shorter_trace_that_fails_alike_and_replays() {
    let text = regression("election-resign-blind-delete.seed-10.jsonl");
    let shrunk = shrink(&text, 2000).unwrap();
    let r = &shrunk.report;
    assert!(r.after.steps < r.before.steps, "{r:?}");
    assert!(r.after.faults.total() <= r.before.faults.total(), "{r:?}");
    assert_eq!(first_violation(&shrunk.text), first_violation(&text));
    assert_eq!(r.property, first_violation(&text));
    assert_eq!(replay(&shrunk.text).unwrap(), shrunk.text);
}

// Goal: a cluster mutant's failure in abstract time shrinks too, and still fails alike.
#[test]
fn an_abstract_cluster_mutant_failure_shrinks_and_still_fails_alike() {
    let text = abstract_failure("status-then-delete");
    let shrunk = shrink(&text, 400).unwrap();
    assert!(shrunk.report.after.steps < shrunk.report.before.steps);
    assert_eq!(first_violation(&shrunk.text), first_violation(&text));
    assert_eq!(replay(&shrunk.text).unwrap(), shrunk.text);
}

// Goal: the same trace and budget give the same shrunk bytes.
#[test]
fn shrinking_is_deterministic() {
    let text = regression("election-resign-blind-delete.seed-10.jsonl");
    let a = shrink(&text, 300).unwrap();
    let b = shrink(&text, 300).unwrap();
    assert_eq!(a.text, b.text);
    assert_eq!(a.report, b.report);
}

// Goal: a budget too small to finish is reported as stopping early, with a valid trace.
#[test]
fn a_small_replay_budget_stops_early_and_says_so() {
    let text = regression("election-resign-blind-delete.seed-10.jsonl");
    let shrunk = shrink(&text, 3).unwrap();
    assert!(shrunk.report.stopped_early);
    assert_eq!(shrunk.report.replays, 3);
    assert_eq!(replay(&shrunk.text).unwrap(), shrunk.text);
}

// Goal: a trace where every property held cannot be shrunk, and the error says so.
#[test]
fn shrinking_a_passing_trace_is_an_error_that_says_so() {
    let recipe = recipes::find("election").unwrap();
    let text = simulate(&recipe, &Options::default(), 1, false, true)
        .unwrap()
        .text
        .unwrap();
    let err = shrink(&text, 100).unwrap_err().to_string();
    assert!(err.contains("breaks no property"), "{err}");
}

// Goal: truncated, malformed, foreign-version and unknown-recipe traces are refused with the
// line and the problem.
#[test]
fn bad_traces_are_refused_with_the_line_and_the_problem() {
    let text = regression("election-resign-blind-delete.seed-10.jsonl");
    let lines: Vec<&str> = text.lines().collect();
    let truncated = lines[..5].join("\n");
    let cut_mid_line = format!("{}\n{}", lines[..5].join("\n"), &lines[5][..20]);
    let old_version = text.replacen("\"version\":2", "\"version\":1", 1);
    let unknown = text.replacen("election-resign-blind-delete", "nope", 1);
    let cases = [
        (truncated.as_str(), "line 5: the trace is truncated"),
        (cut_mid_line.as_str(), "line 6:"),
        (
            old_version.as_str(),
            "line 1: trace version 1 is not supported",
        ),
        (unknown.as_str(), "line 1: unknown recipe \"nope\""),
        ("not json\n", "line 1: malformed JSON"),
    ];
    for (input, wanted) in cases {
        let err = shrink(input, 10).unwrap_err().to_string();
        assert!(err.contains(wanted), "wanted {wanted:?}, got {err}");
    }
}

// Goal: a failure that needs fewer processes shrinks to a smaller cluster: the zombie master
// of `no-fencing` needs one master, one worker and one client with one task, and the smaller
// trace still fails alike and replays.
#[test]
fn a_failure_shrinks_to_a_smaller_cluster_where_it_allows() {
    let text = regression("no-fencing.seed-11.jsonl");
    let shrunk = shrink(&text, 3000).unwrap();
    let r = &shrunk.report;
    assert_eq!(r.before.shape, [2, 2, 2, 4], "{r:?}");
    assert_eq!(r.after.shape, [1, 1, 1, 1], "{r:?}");
    let t = trace::parse(&shrunk.text).unwrap();
    assert_eq!(t.header.processes, ["m1", "w1", "c1"]);
    assert_eq!(first_violation(&shrunk.text), first_violation(&text));
    assert_eq!(replay(&shrunk.text).unwrap(), shrunk.text);
}
