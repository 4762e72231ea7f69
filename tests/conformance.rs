//! The committed transcripts, recorded from a real ZooKeeper 3.8.0, replayed on the model.

use std::path::{Path, PathBuf};

use zksim::conform_cmd::{conform, expand};
use zksim::conformance::check::{check, load, parse};
use zksim::conformance::transcript::StepAction;
use zksim_model::op::Response;
use zksim_model::ErrorCode;

fn transcripts_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/transcripts")
}

// Goal: the model agrees with the real server on every step of every committed transcript.
#[test]
fn the_model_matches_every_committed_transcript() {
    let files = expand(&[transcripts_dir()]).unwrap();
    assert!(
        files.len() >= 40,
        "expected the committed transcripts, found {}",
        files.len()
    );
    let summary = conform(&files).unwrap();
    let report: Vec<String> = summary
        .reports
        .iter()
        .flat_map(|r| r.mismatches.iter().map(move |m| format!("{}: {m}", r.name)))
        .collect();
    assert!(
        report.is_empty(),
        "{} mismatches:\n{}",
        report.len(),
        report.join("\n")
    );
    assert_eq!(summary.matched, summary.steps);
    assert!(summary.steps > 500, "only {} steps", summary.steps);
}

// Goal: the checker is not vacuous: a recorded expectation changed by one field is reported
// at that step and field, and nowhere else.
#[test]
fn a_changed_expectation_is_reported_at_its_step() {
    let file = transcripts_dir().join("create_errors.json");
    let mut t = load(&file).unwrap();
    let (i, step) = t
        .steps
        .iter_mut()
        .enumerate()
        .find(|(_, s)| matches!(s.action, StepAction::Request { .. }))
        .unwrap();
    let expect = step.expect.as_mut().unwrap();
    expect.reply = Some(match expect.reply.take().unwrap() {
        Ok(_) => Err(ErrorCode::NodeExists),
        Err(_) => Ok(Response::Empty),
    });
    let report = check(&t, &file).unwrap();
    assert_eq!(report.mismatched, 1, "{:?}", report.mismatches);
    assert_eq!(report.mismatches[0].step, i);
    assert_eq!(report.mismatches[0].field, "reply");
}

// Goal: a request in flight at a disconnect can be found applied or not; the transcript
// recorded from the real server picks one branch, and the model can produce both.
#[test]
fn an_in_flight_write_is_matched_by_one_of_two_branches() {
    let file = transcripts_dir().join("connection_loss_in_flight.json");
    let t = load(&file).unwrap();
    let report = check(&t, &file).unwrap();
    assert_eq!(report.mismatched, 0, "{:?}", report.mismatches);
    assert!(!report.in_flight_applied.is_empty());
}

// Goal: bad transcripts get an error naming the place and the problem, never a panic.
#[test]
fn malformed_transcripts_are_refused_with_the_place() {
    let cases = [
        (
            "{\"schema\": 1, \"name\": \"x\",",
            "malformed JSON at line 1",
        ),
        (
            r#"{"schema": 2, "name": "x", "about": "", "steps": []}"#,
            "schema 2 is not supported",
        ),
        (
            r#"{"schema": 1, "name": "x", "about": "", "steps": [{"do": "connect", "session": "a", "timeout_ms": 1}, {"do": "request", "session": "a", "request": {"op": "frobnicate", "path": "/"}}]}"#,
            "step 1: unknown variant `frobnicate`",
        ),
        (
            r#"{"schema": 1, "name": "x", "about": "", "steps": [{"do": "connect", "session": "a"}]}"#,
            "step 0: missing field `timeout_ms`",
        ),
        (
            r#"{"schema": 1, "name": "x", "about": ""}"#,
            "missing field `steps`",
        ),
    ];
    for (text, wanted) in cases {
        let err = parse(text).unwrap_err();
        assert!(
            err.contains(wanted),
            "{text}\n  gave: {err}\n  wanted: {wanted}"
        );
    }
}

// Goal: a script step that uses a session before connecting it is an error naming the step.
#[test]
fn a_session_used_before_it_connects_is_a_script_error() {
    let text = r#"{"schema": 1, "name": "x", "about": "", "steps": [
        {"do": "request", "session": "a", "request": {"op": "sync", "path": "/"}, "expect": {}}]}"#;
    let t = parse(text).unwrap();
    let err = check(&t, Path::new("x.json")).unwrap_err();
    assert!(
        err.to_string()
            .contains("x.json: step 0: session \"a\" is used before it connects"),
        "{err}"
    );
}
