//! The simulator is deterministic: the same seed gives the same bytes, a recorded trace
//! replays byte for byte, and the traces of found bugs still reproduce them.

use std::hash::{DefaultHasher, Hash, Hasher};

use zksim_sim::options::{Options, TimeMode};
use zksim_sim::recipes;
use zksim_sim::run::{replay, simulate};
use zksim_sim::{render, trace};

fn digest(text: &str) -> u64 {
    let mut h = DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
}

// Goal: hundreds of seeds, each run twice, give identical traces (timed, swarm and abstract).
#[test]
fn every_seed_gives_the_same_trace_twice() {
    let recipe = recipes::find("election").unwrap();
    let abstract_time = Options {
        time: TimeMode::Abstract,
        ..Options::default()
    };
    for (options, swarm) in [
        (Options::default(), false),
        (Options::default(), true),
        (abstract_time, false),
    ] {
        for seed in 0..200 {
            let a = simulate(&recipe, &options, seed, swarm, true)
                .unwrap()
                .text
                .unwrap();
            let b = simulate(&recipe, &options, seed, swarm, true)
                .unwrap()
                .text
                .unwrap();
            assert_eq!(
                digest(&a),
                digest(&b),
                "seed {seed} swarm {swarm} {options:?}"
            );
        }
    }
}

// Goal: a recorded trace replays to the same bytes, line for line, for passing and failing runs.
#[test]
fn a_recorded_trace_replays_byte_for_byte() {
    for name in ["election", "election-assume-leader", "election-blind-retry"] {
        let recipe = recipes::find(name).unwrap();
        for seed in 0..50 {
            let text = simulate(&recipe, &Options::default(), seed, seed % 2 == 0, true)
                .unwrap()
                .text
                .unwrap();
            assert_eq!(replay(&text).unwrap(), text, "{name} seed {seed}");
        }
    }
}

// Goal: the trace is data: every line parses back, and the run without recording reports the
// same counts and verdict as the run with it.
#[test]
fn recording_does_not_change_the_run() {
    let recipe = recipes::find("election-assume-leader").unwrap();
    for seed in 0..100 {
        let quiet = simulate(&recipe, &Options::default(), seed, false, false).unwrap();
        let loud = simulate(&recipe, &Options::default(), seed, false, true).unwrap();
        assert_eq!(quiet.end, loud.end, "seed {seed}");
        let parsed = trace::parse(loud.text.as_deref().unwrap()).unwrap();
        assert_eq!(parsed.end.as_ref(), Some(&loud.end));
    }
}

// Goal: a replay that meets a different event fails loudly, naming the line.
#[test]
fn a_tampered_trace_fails_replay_at_the_first_difference() {
    let recipe = recipes::find("election").unwrap();
    let text = simulate(&recipe, &Options::default(), 3, false, true)
        .unwrap()
        .text
        .unwrap();
    let tampered = text.replacen("\"c2\"", "\"c9\"", 1);
    assert_ne!(tampered, text);
    let err = replay(&tampered).unwrap_err().to_string();
    assert!(err.starts_with("line "), "{err}");
    assert!(err.contains("differs on replay"), "{err}");
}

// Goal: bad traces get an error naming the line and the problem, never a panic.
#[test]
fn malformed_traces_are_refused_with_the_line() {
    let recipe = recipes::find("election").unwrap();
    let text = simulate(&recipe, &Options::default(), 3, false, true)
        .unwrap()
        .text
        .unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let truncated = format!("{}\n{}", lines[0], &lines[1][..lines[1].len() / 2]);
    let cases = [
        (String::new(), "line 1: empty trace"),
        ("{".to_string(), "line 1: malformed JSON"),
        (
            text.replacen("\"version\":2", "\"version\":99", 1),
            "trace version 99 is not supported",
        ),
        (
            text.replacen("zksim-trace", "other", 1),
            "not a zksim-trace header",
        ),
        (truncated, "line 2:"),
        (
            text.replacen("\"recipe\":\"election\"", "\"recipe\":\"nope\"", 1),
            "unknown recipe \"nope\"",
        ),
        (
            text.replacen("\"action\":\"to_server\"", "\"action\":\"teleport\"", 1),
            "unknown variant `teleport`",
        ),
    ];
    for (bad, wanted) in cases {
        let err = replay(&bad).unwrap_err().to_string();
        assert!(err.contains(wanted), "wanted {wanted:?}, got {err:?}");
    }
}

// Goal: pin one rendered trace, so any change of behaviour or of the seed's meaning shows as
// a reviewable diff (cargo insta review).
#[test]
fn the_rendering_of_election_seed_3_is_pinned() {
    let recipe = recipes::find("election").unwrap();
    let text = simulate(&recipe, &Options::default(), 3, false, true)
        .unwrap()
        .text
        .unwrap();
    insta::assert_snapshot!(render::render(&trace::parse(&text).unwrap()));
}
