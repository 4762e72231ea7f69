//! The scenario catalog (`scenarios/*.toml`): every scenario meets its expectation, its trace
//! replays, and its rendered trace is pinned as a snapshot; bad scenario files are refused
//! with the file, the line and the problem.

use std::path::PathBuf;

use zksim_sim::action::Action;
use zksim_sim::run::replay;
use zksim_sim::scenario::{self, glob, Expect};
use zksim_sim::{render, trace};

fn catalog() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

// Goal: every catalog scenario meets its expectation, replays byte for byte, and renders
// exactly as its committed snapshot (a behaviour change shows as a reviewable diff).
#[test]
fn every_catalog_scenario_meets_its_expectation_and_matches_its_snapshot() {
    let files = catalog();
    assert!(files.len() >= 10, "the catalog is there");
    let mut failed = Vec::new();
    for f in &files {
        let s = scenario::load(f).unwrap_or_else(|e| panic!("{e}"));
        let report = s.run().unwrap();
        if !report.ok {
            failed.push(format!("{}: {}", s.name, report.problems.join("; ")));
        }
        assert_eq!(
            replay(report.trace()).unwrap(),
            report.trace(),
            "{}",
            s.name
        );
        let rendered = render::render(&trace::parse(report.trace()).unwrap());
        insta::assert_snapshot!(format!("catalog__{}", s.name), rendered);
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

// Goal: the catalog has a pass scenario and a scenario for every mutant, each expecting the
// property its recipe is known to break.
#[test]
fn the_catalog_shows_every_mutant_breaking_its_property() {
    let scenarios: Vec<_> = catalog()
        .iter()
        .map(|f| scenario::load(f).unwrap())
        .collect();
    assert!(scenarios.iter().any(|s| s.expect == Expect::Pass));
    for r in zksim_sim::recipes::all() {
        let Some(breaks) = r.breaks else { continue };
        let shown = scenarios
            .iter()
            .any(|s| s.recipe == r.name && s.expect == Expect::Violated(breaks.to_string()));
        assert!(
            shown,
            "no scenario shows mutant {} breaking {breaks:?}",
            r.name
        );
    }
}

fn error_of(text: &str) -> String {
    scenario::parse(text, "bad.toml")
        .expect_err("refused")
        .to_string()
}

const HEAD: &str = "recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n";

// Goal: malformed TOML is refused with the file and the line of the error.
#[test]
fn malformed_toml_names_the_file_and_line() {
    let e = error_of("recipe = \"fixed\"\nseed = \nexpect = \"pass\"\n");
    assert!(e.starts_with("bad.toml:2:"), "{e}");
}

// Goal: an unknown recipe is refused on its line, listing the known ones.
#[test]
fn an_unknown_recipe_is_refused_with_the_known_ones() {
    let e = error_of("seed = 1\nrecipe = \"nope\"\nexpect = \"pass\"\n");
    assert!(e.starts_with("bad.toml:2:"), "{e}");
    assert!(
        e.contains("unknown recipe \"nope\"") && e.contains("no-fencing"),
        "{e}"
    );
}

// Goal: an unknown field, at the top or in a fault, is refused on its line.
#[test]
fn an_unknown_field_is_refused_on_its_line() {
    let e = error_of(&format!("{HEAD}colour = \"red\"\n"));
    assert!(e.starts_with("bad.toml:4:") && e.contains("colour"), "{e}");
    let e = error_of(&format!("{HEAD}[options]\nsteps_maximum = 3\n"));
    assert!(
        e.starts_with("bad.toml:5:") && e.contains("steps_maximum"),
        "{e}"
    );
    let e = error_of(&format!(
        "{HEAD}[[fault]]\naction = \"crash\"\nprocess = \"m1\"\nat_ms = 5\nwhen = 3\n"
    ));
    assert!(e.starts_with("bad.toml:8:") && e.contains("when"), "{e}");
}

// Goal: a fault on a process the shape does not have is refused, naming the ones it has.
#[test]
fn a_fault_on_a_missing_process_is_refused() {
    let e = error_of(&format!(
        "{HEAD}[options.shape]\nmasters = 1\n[[fault]]\naction = \"crash\"\nprocess = \"m2\"\nat_ms = 5\n"
    ));
    assert!(e.starts_with("bad.toml:8:"), "{e}");
    assert!(
        e.contains("no process \"m2\"") && e.contains("m1, w1"),
        "{e}"
    );
    let e = error_of(&format!(
        "{HEAD}[[fault]]\naction = \"crash\"\nprocess = \"m1\"\non = {{ event = \"crash\", process = \"zz\" }}\n"
    ));
    assert!(e.starts_with("bad.toml:7:") && e.contains("\"zz\""), "{e}");
}

// Goal: a bad time (negative, a string, or a clock time in abstract mode) is refused on its
// line.
#[test]
fn a_bad_time_is_refused_on_its_line() {
    let fault = |at: &str| format!("{HEAD}[[fault]]\naction = \"crash\"\nprocess = \"m1\"\n{at}\n");
    for at in ["at_ms = -5", "at_ms = \"12s\"", "at_ms = 1.5"] {
        let e = error_of(&fault(at));
        assert!(e.starts_with("bad.toml:7:"), "{at}: {e}");
    }
    let e = error_of(&format!(
        "{HEAD}[options]\ntime = \"abstract\"\n[[fault]]\naction = \"crash\"\nprocess = \"m1\"\nat_ms = 5\n"
    ));
    assert!(
        e.starts_with("bad.toml:9:") && e.contains("abstract"),
        "{e}"
    );
}

// Goal: unknown actions, events, ops and replies, a field that does not fit the event, a
// fault without a trigger and an expectation that is not a property are each refused.
#[test]
fn bad_faults_and_expectations_are_refused() {
    let fault = |body: &str| format!("{HEAD}[[fault]]\nprocess = \"m1\"\n{body}\n");
    let cases = [
        ("action = \"explode\"\nat_ms = 1", "unknown action"),
        (
            "action = \"crash\"\non = { event = \"boom\" }",
            "unknown event",
        ),
        (
            "action = \"crash\"\non = { event = \"request\", op = \"frob\" }",
            "unknown op",
        ),
        (
            "action = \"crash\"\non = { event = \"reply\", reply = \"Oops\" }",
            "error code",
        ),
        (
            "action = \"crash\"\non = { event = \"crash\", path = \"/x\" }",
            "does not apply",
        ),
        (
            "action = \"crash\"\non = { event = \"watch\", nth = 0 }",
            "nth counts from 1",
        ),
        ("action = \"crash\"", "needs a trigger"),
        ("action = \"expire\"\nat_ms = 3", "abstract"),
        ("action = \"restart_server\"\nat_ms = 3", "names no process"),
    ];
    for (body, problem) in cases {
        let e = error_of(&fault(body));
        assert!(e.starts_with("bad.toml:"), "{body}: {e}");
        assert!(e.contains(problem), "{body}: {e}");
    }
    let e = error_of(&format!("{HEAD}[[fault]]\naction = \"crash\"\nat_ms = 3\n"));
    assert!(
        e.starts_with("bad.toml:") && e.contains("crash needs a process"),
        "{e}"
    );
    let e = error_of("recipe = \"fixed\"\nseed = 1\nexpect = \"no bugs\"\n");
    assert!(
        e.starts_with("bad.toml:3:") && e.contains("a status is written once"),
        "{e}"
    );
}

// Goal: a time-triggered fault is taken exactly at its time, and an event-triggered one on
// the step right after its nth matching event.
#[test]
fn faults_fire_at_their_time_and_right_after_their_event() {
    let s = scenario::parse(
        &format!(
            "{HEAD}[[fault]]\naction = \"crash\"\nprocess = \"w2\"\nat_ms = 700\n\
             [[fault]]\naction = \"disconnect\"\nprocess = \"c1\"\n\
             on = {{ event = \"handled\", process = \"c1\", op = \"create\", path = \"/tasks/*\", reply = \"ok\", nth = 2 }}\n"
        ),
        "t.toml",
    )
    .unwrap();
    let report = s.run().unwrap();
    assert!(report.ok, "{:?}", report.problems);
    let t = trace::parse(report.trace()).unwrap();
    let crash = report.fired[0].step.unwrap() as usize;
    assert_eq!(t.steps[crash].time_ms, 700);
    let disconnect = report.fired[1].step.unwrap() as usize;
    let handled = t.steps[..disconnect]
        .iter()
        .flat_map(|s| s.events.iter().map(move |e| (s.step, e)))
        .filter(|(_, e)| {
            matches!(e, zksim_sim::event::Event::Handled { process, reply: Ok(_), .. } if *process == 4)
        })
        .count();
    assert!(
        handled >= 2,
        "the disconnect came after the second handled submission"
    );
    assert_eq!(
        t.steps[disconnect].action,
        Some(zksim_sim::action::Action::Disconnect { process: 4 })
    );
}

// Goal: a scripted fault that never triggers fails a pass expectation, saying so.
#[test]
fn a_fault_that_never_fires_fails_the_expectation() {
    let s = scenario::parse(
        &format!("{HEAD}[[fault]]\naction = \"crash\"\nprocess = \"m1\"\non = {{ event = \"log\", text = \"never*\" }}\n"),
        "t.toml",
    )
    .unwrap();
    let report = s.run().unwrap();
    assert!(!report.ok);
    assert!(
        report.problems[0].contains("line 4") && report.problems[0].contains("never triggered")
    );
}

// Goal: path globs: `*` stays within a segment, `**` crosses segments, `?` is one character.
#[test]
fn globs_match_segments_as_documented() {
    assert!(glob("/assign/*", "/assign/w1"));
    assert!(!glob("/assign/*", "/assign/w1/task-1"));
    assert!(glob("/assign/*/*", "/assign/w1/task-1"));
    assert!(glob("/assign/**", "/assign/w1/task-1"));
    assert!(glob("/tasks/task-?.*", "/tasks/task-c.4"));
    assert!(!glob("/master", "/masters"));
}

const KILL_THE_LEADER: &str = r#"recipe = "fixed"
seed = 1
expect = "pass"

[options]
time = "abstract"

[options.shape]
masters = 2
workers = 0
clients = 0

[[fault]]
action = "kill"
process = "m1"
on = { event = "note", op = "leads", process = "m1" }
"#;

/// Runs a scenario that must meet its expectation; the step at which faults stopped and the
/// steps that expired a session.
fn stop_and_expiries(text: &str) -> (usize, Vec<usize>) {
    let report = scenario::parse(text, "kill.toml").unwrap().run().unwrap();
    assert!(report.ok, "{}", report.problems.join("; "));
    let t = trace::parse(report.trace()).unwrap();
    let at = |is: &dyn Fn(&Action) -> bool| -> Vec<usize> {
        let steps = t.steps.iter().enumerate();
        steps
            .filter(|(_, s)| s.action.as_ref().is_some_and(is))
            .map(|(i, _)| i)
            .collect()
    };
    let stop = at(&|a| *a == Action::StopFaults)[0];
    (stop, at(&|a| matches!(a, Action::Expire { .. })))
}

// Goal: in abstract time, once faults stop, the session a killed process left behind expires
// as time passes (no fault: the run carries on; it used to stop with "action not enabled:
// StopFaults"), and the backup takes over.
#[test]
fn a_dead_process_session_expires_after_faults_stop() {
    let (stop, expiries) = stop_and_expiries(KILL_THE_LEADER);
    assert!(
        expiries.iter().any(|&e| e > stop),
        "{expiries:?}, stop {stop}"
    );
}

// Goal: a script can expire the session a killed process left behind, while faults are on.
#[test]
fn a_script_expires_the_session_a_killed_process_left_behind() {
    let text = format!(
        "{KILL_THE_LEADER}\n[[fault]]\naction = \"expire\"\nprocess = \"m1\"\n\
         on = {{ event = \"crash\", process = \"m1\" }}\n"
    );
    let (stop, expiries) = stop_and_expiries(&text);
    assert!(
        expiries.first().is_some_and(|&e| e < stop),
        "{expiries:?}, stop {stop}"
    );
}
