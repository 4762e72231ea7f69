//! Out-of-range input, from flags, trace headers, scenario files and transcripts: each is
//! refused with exit 2 and a message naming the flag or the place in the file, never a panic,
//! an abort or a hang.

use std::path::Path;

mod common;
use common::{s, scratch, stderr, zksim};

use zksim_sim::options::{Options, Shape};

/// Asserts the command was refused as bad input (exit 2) with a message holding `naming`,
/// and that nothing panicked.
fn refused(args: &[&str], naming: &str) {
    let o = zksim(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "zksim {args:?}: {err}");
    assert!(
        err.contains(naming),
        "zksim {args:?} should name {naming:?}: {err}"
    );
    assert!(!err.contains("panicked"), "zksim {args:?}: {err}");
}

// Goal: every count, size and thread number a flag takes is bounded, and the flag is named
// (these once panicked on capacity overflow, aborted on allocation, or hung).
#[test]
fn flags_out_of_range_are_refused_naming_the_flag() {
    let huge = [
        (
            vec!["simulate", "--seeds", "0..18446744073709551615"],
            "--seeds",
        ),
        (vec!["simulate", "--seeds", "5..5"], "--seeds"),
        (vec!["simulate", "--seed", "18446744073709551615"], "--seed"),
        (vec!["bench", "--seeds", "0"], "--seeds"),
        (vec!["bench", "--seeds", "100000000"], "--seeds"),
        (vec!["simulate", "--workers", "1000000000"], "--workers"),
        (vec!["simulate", "--queued", "4000000000"], "--queued"),
        (vec!["simulate", "--tasks", "1001"], "--tasks"),
        (vec!["simulate", "--masters", "1000000000"], "--masters"),
        (
            vec!["simulate", "--recipe", "election", "--masters", "100000"],
            "--masters",
        ),
        (vec!["simulate", "--jobs", "100000"], "--jobs"),
        (vec!["simulate", "--shard", "0/100001"], "--shard"),
        (
            vec!["simulate", "--shard", "0/18446744073709551616"],
            "--shard",
        ),
        (vec!["simulate", "--jobs", "0"], "--jobs"),
        (vec!["simulate", "--steps-max", "4294967295"], "--steps-max"),
        (
            vec!["simulate", "--liveness-steps-max", "100001"],
            "--liveness-steps-max",
        ),
        (
            vec!["simulate", "--fault-per-mille", "1001"],
            "--fault-per-mille",
        ),
        (vec!["simulate", "--pct-depth", "17"], "--pct-depth"),
        (vec!["check", "--seconds-max", "0"], "--seconds-max"),
        (vec!["check", "--pct-depth", "2"], "--pct-depth"),
        (
            vec!["simulate", "--swarm", "--pct-depth", "2"],
            "--pct-depth",
        ),
        (vec!["simulate", "--tick-ms", "0"], "--tick-ms"),
        (
            vec!["simulate", "--session-timeout-ms", "4294967295"],
            "--session-timeout-ms",
        ),
        (
            vec!["simulate", "--message-delay-ms-max", "18446744073709551615"],
            "--message-delay-ms-max",
        ),
        (vec!["simulate", "--crashes-max", "10001"], "--crashes-max"),
        (vec!["check", "--threads", "100000"], "--threads"),
        (vec!["check", "--masters", "65"], "--masters"),
        (
            vec!["check", "--recipe", "fixed", "--workers", "1000000000"],
            "--workers",
        ),
        (
            vec!["check", "--disconnects-max", "4294967295"],
            "--disconnects-max",
        ),
        // A graph of no state once panicked: --dot asked for a graph the search never kept.
        (
            vec!["check", "--dot", "never.dot", "--graph-states-max", "0"],
            "--graph-states-max",
        ),
        (
            vec!["check", "--graph-states-max", "100001"],
            "--graph-states-max",
        ),
    ];
    for (args, flag) in huge {
        refused(&args, flag);
    }
}

// Goal: a knob that `--swarm` draws from each seed is refused beside it by `simulate` and
// `confirm`, naming the flag, for every field swarm draws (it was silently overridden by the
// draw).
#[test]
fn a_flag_swarm_draws_is_refused_beside_swarm() {
    for field in Options::SWARM_FIELDS {
        let flag = format!("--{}", field.replace('_', "-"));
        let value = match field {
            "buggify" => None,
            "assign_policy" => Some("random"),
            _ => Some("1"),
        };
        let naming =
            format!("{flag}: --swarm draws it from each seed, so the flag would be ignored");
        let mut confirm = vec![
            "confirm", "--recipe", "fixed", "--seeds", "0..1", "--swarm", &flag,
        ];
        confirm.extend(value);
        refused(&confirm, &naming);
        let mut args = vec!["simulate", "--seed", "1", "--swarm", &flag];
        args.extend(value);
        refused(&args, &naming);
        // Without --swarm the flag is taken.
        args.retain(|a| *a != "--swarm");
        let o = zksim(&args);
        assert!(
            matches!(o.status.code(), Some(0 | 1)),
            "{args:?}: {}",
            stderr(&o)
        );
    }
}

// Goal: `--help` states the bounds the flags enforce, from the same constants.
#[test]
fn help_states_the_bounds() {
    let help = String::from_utf8_lossy(&zksim(&["simulate", "--help"]).stdout).into_owned();
    for bound in [
        format!("at most {}", Shape::PROCESSES_MAX),
        format!("at most {}", Shape::TASKS_MAX),
        format!("at most {}", Options::FAULTS_MAX),
        format!("at most {}", Options::STEPS_MAX),
        format!("(0 to {})", Options::PER_MILLE_MAX),
        format!("1 to {}", Options::DURATION_MS_MAX),
        "at most 1000000000 of them".to_string(),
        format!("N at most {}", zksim::sim_cmd::Shard::COUNT_MAX),
        "1 to 256".to_string(),
    ] {
        assert!(help.contains(&bound), "{bound:?} not in:\n{help}");
    }
}

/// A trace of the election, seed 1, written in `dir`; returns its text.
fn election_trace(dir: &Path) -> String {
    let path = dir.join("t.jsonl");
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election",
        "--seed",
        "1",
        "--trace",
        s(&path),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    std::fs::read_to_string(path).unwrap()
}

// Goal: a trace header with a huge shape, a role the recipe has not, or an unbounded phase is
// refused by every command that reads traces, naming the file, line 1 and the field.
#[test]
fn a_trace_header_out_of_range_is_refused_by_every_reader() {
    let dir = scratch("trace");
    let text = election_trace(&dir);
    let edits = [
        (
            "huge-shape",
            r#""unchecked":[],"shape":{"masters":1000000000}}"#,
            "header.options.shape.masters: 1000000000 is over the limit of 64",
        ),
        (
            "no-such-role",
            r#""unchecked":[],"shape":{"workers":3}}"#,
            "header.options.shape.workers: recipe election has no workers",
        ),
    ];
    for (name, shape, message) in edits {
        let bad = dir.join(format!("{name}.jsonl"));
        let edited = text.replacen(r#""unchecked":[]}"#, shape, 1);
        assert_ne!(edited, text);
        std::fs::write(&bad, edited).unwrap();
        let naming = format!("{}: line 1: {message}", bad.display());
        let out = dir.join("out");
        for args in [
            vec!["replay", s(&bad)],
            vec!["render", s(&bad)],
            vec!["render", s(&bad), "--html", s(&out)],
            vec!["shrink", s(&bad), "-o", s(&out)],
            vec!["diff", s(&bad), s(&dir.join("t.jsonl"))],
        ] {
            refused(&args, &naming);
        }
    }
    let steps = dir.join("steps.jsonl");
    std::fs::write(
        &steps,
        text.replacen(r#""steps_max":1000,"#, r#""steps_max":4000000000,"#, 1),
    )
    .unwrap();
    refused(
        &["replay", s(&steps)],
        &format!(
            "{}: line 1: header.options.steps_max: 4000000000 is over the limit of 100000",
            steps.display()
        ),
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a trace header edited in any field its run depends on fails `zksim replay` (exit 1: the
// run the header describes is not the recorded one; exit 2: the header contradicts itself),
// naming the field where one can be named; an unedited trace replays (exit 0). Each edit is
// made on a trace whose run the field changes: expiries only count in abstract time, a
// BUGGIFY point only fires on some seeds, at-least-once only matters once a status is
// written twice.
#[test]
fn a_trace_header_edited_in_any_field_the_run_reads_fails_replay() {
    let dir = scratch("header-edits");
    let record = |name: &str, args: &[&str]| -> String {
        let path = dir.join(format!("{name}.jsonl"));
        let mut all = vec!["simulate", "--trace", s(&path)];
        all.extend_from_slice(args);
        let o = zksim(&all);
        assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stderr(&o));
        std::fs::read_to_string(path).unwrap()
    };
    let fixed = ["--recipe", "fixed", "--seed", "4", "--steps-max", "200"];
    let timed = record("timed", &fixed);
    let abstract_time = record("abstract", &[&fixed[..], &["--time", "abstract"]].concat());
    let buggify = record(
        "buggify",
        &["--recipe", "election", "--seed", "11", "--buggify"],
    );
    let swarm = record("swarm", &["--recipe", "fixed", "--seed", "4", "--swarm"]);
    let resubmits = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("scenarios/regressions/client-resubmits.seed-3.jsonl"),
    )
    .unwrap();
    let traces = [
        ("timed", timed),
        ("abstract", abstract_time),
        ("buggify", buggify),
        ("swarm", swarm),
        ("resubmits", resubmits),
    ];
    let drawn = "seed 4 and the header's options draw another run";
    let differs = "differs on replay";
    let not_enabled = "(the recorded action cannot be taken on replay of this header)";
    let processes = "line 1 differs on replay: header processes: recorded";
    let rate = Options::swarm(4).fault_per_mille.to_string();
    let rate_edited = (Options::swarm(4).fault_per_mille + 1).to_string();
    // (trace, field, its value, the value it is edited to, exit code, what the message says)
    let cases = [
        (
            "timed",
            "seed",
            "4",
            "5",
            1,
            "seed 5 and the header's options draw another run",
        ),
        (
            "timed",
            "swarm",
            "false",
            "true",
            2,
            "but header.swarm is true",
        ),
        (
            "timed",
            "time",
            r#""timed""#,
            r#""abstract""#,
            1,
            not_enabled,
        ),
        ("timed", "tick_ms", "2000", "1000", 1, not_enabled),
        (
            "timed",
            "session_timeout_ms",
            "6000",
            "4000",
            1,
            not_enabled,
        ),
        ("timed", "message_delay_ms_max", "50", "40", 1, not_enabled),
        ("timed", "crashes_max", "2", "3", 1, drawn),
        ("timed", "crashes_max", "2", "0", 1, not_enabled),
        ("timed", "kills_max", "1", "2", 1, drawn),
        ("timed", "disconnects_max", "3", "4", 1, drawn),
        ("timed", "fault_per_mille", "20", "500", 1, drawn),
        ("timed", "repair_per_mille", "200", "300", 1, drawn),
        ("timed", "steps_max", "200", "100", 1, drawn),
        ("timed", "liveness_steps_max", "2000", "5", 1, drawn),
        (
            "timed",
            "assign_policy",
            r#""round_robin""#,
            r#""least_loaded""#,
            1,
            not_enabled,
        ),
        (
            "timed",
            "unchecked",
            "[]",
            r#"["a session expired"]"#,
            1,
            differs,
        ),
        (
            "timed",
            "unchecked",
            "[]}",
            r#"[],"shape":{"masters":3}}"#,
            1,
            processes,
        ),
        ("timed", "processes", r#"["m1""#, r#"["m9""#, 1, processes),
        (
            "timed",
            "recipe",
            r#""fixed""#,
            r#""no-fencing""#,
            1,
            differs,
        ),
        ("abstract", "expiries_max", "2", "1", 1, drawn),
        (
            "abstract",
            "child_order",
            r#""java""#,
            r#""sorted""#,
            1,
            differs,
        ),
        ("buggify", "buggify", "true", "false", 1, not_enabled),
        ("resubmits", "at_least_once", "false", "true", 1, differs),
        (
            "swarm",
            "seed",
            "4",
            "5",
            2,
            "but header.swarm is true and seed 5 draws",
        ),
        (
            "swarm",
            "fault_per_mille",
            &rate,
            &rate_edited,
            2,
            "header.options.fault_per_mille is",
        ),
    ];
    for (name, text) in &traces {
        let path = dir.join(format!("{name}.jsonl"));
        std::fs::write(&path, text).unwrap();
        let o = zksim(&["replay", s(&path)]);
        assert_eq!(o.status.code(), Some(0), "{name} unedited: {}", stderr(&o));
    }
    let mut missed = Vec::new();
    for (name, field, from, to, code, naming) in cases {
        let text = &traces.iter().find(|(n, _)| *n == name).unwrap().1;
        let (header, rest) = text.split_once('\n').unwrap();
        let (from, to) = (format!(r#""{field}":{from}"#), format!(r#""{field}":{to}"#));
        assert!(header.contains(&from), "{name}: no {from} in {header}");
        let edited = dir.join("edited.jsonl");
        let header = header.replacen(&from, &to, 1);
        std::fs::write(&edited, format!("{header}\n{rest}")).unwrap();
        let o = zksim(&["replay", s(&edited)]);
        let err = stderr(&o);
        if o.status.code() != Some(code) || !err.contains(naming) || err.contains("panicked") {
            missed.push(format!(
                "{name} {from} -> {to}: want {code} {naming:?}, got {err}"
            ));
        }
    }
    assert!(missed.is_empty(), "{}", missed.join("\n"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a scenario with a huge shape, a role its recipe has not, a tick of 0 or a fault a
// century away is refused before anything runs, naming the file and the line.
#[test]
fn a_scenario_out_of_range_is_refused_naming_its_line() {
    let dir = scratch("scenario");
    let head = "recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n";
    let cases = [
        (
            "huge-shape",
            format!("{head}\n[options.shape]\nmasters = 2\nworkers = 1000000000\n"),
            ":7: options.shape.workers: 1000000000 is over the limit of 64",
        ),
        (
            "huge-queue",
            format!("{head}\n[options.shape]\nqueued = 1001\n"),
            ":6: options.shape.queued: 1001 is over the limit of 1000",
        ),
        (
            "no-tick",
            format!("{head}\n[options]\ntick_ms = 0\n"),
            ":6: options.tick_ms: 0",
        ),
        (
            "late-fault",
            format!(
                "{head}\n[[fault]]\naction = \"crash\"\nprocess = \"master\"\n\
                 at_ms = 9000000000000000000\n"
            ),
            ":8: at_ms: 9000000000000000000 is over the limit of 86400000",
        ),
        (
            "long-glob",
            format!(
                "{head}\n[[fault]]\naction = \"crash\"\nprocess = \"master\"\n\
                 on = {{ event = \"change\", path = \"/{}\" }}\n",
                "a".repeat(1100)
            ),
            ":8: path: a glob of 1101 bytes is over the limit of 1024",
        ),
        (
            "long-text-glob",
            format!(
                "{head}\n[[fault]]\naction = \"crash\"\nprocess = \"master\"\n\
                 on = {{ event = \"log\", text = \"{}\" }}\n",
                "*".repeat(1025)
            ),
            ":8: text: a glob of 1025 bytes is over the limit of 1024",
        ),
        (
            "huge-nth",
            format!(
                "{head}\n[[fault]]\naction = \"crash\"\nprocess = \"master\"\n\
                 on = {{ event = \"change\", nth = 4000000000 }}\n"
            ),
            ":8: nth: 4000000000 is over the limit of 1000000",
        ),
        (
            "election-workers",
            "recipe = \"election\"\nseed = 1\nexpect = \"pass\"\n\n[options.shape]\nworkers = 2\n"
                .to_string(),
            ":6: options.shape.workers: recipe election has no workers",
        ),
    ];
    for (name, text, message) in cases {
        let file = dir.join(format!("{name}.toml"));
        std::fs::write(&file, text).unwrap();
        refused(&["run", s(&file)], &format!("{}{message}", file.display()));
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a trigger's path glob of 30 `**` before a byte no path has (exponential time for a
// matcher that tries every split) is matched against every change of a whole run: the run
// ends, and the fault is reported never triggered (exit 1), not a hang.
#[test]
fn a_glob_of_thirty_globstars_is_matched_through_a_whole_run() {
    let dir = scratch("globstars");
    let file = dir.join("globstars.toml");
    let glob = format!("/{}/{}z", "**".repeat(30), "**/".repeat(30));
    std::fs::write(
        &file,
        format!(
            "recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n\n[[fault]]\naction = \"crash\"\n\
             process = \"master\"\non = {{ event = \"change\", path = \"{glob}\" }}\n"
        ),
    )
    .unwrap();
    let o = zksim(&["run", s(&file)]);
    let out = common::stdout(&o);
    assert_eq!(o.status.code(), Some(1), "{out}{}", stderr(&o));
    assert!(out.contains("never triggered"), "{out}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A transcript of one connect and then `step`, with `tick_ms`.
fn transcript(tick_ms: u32, step: serde_json::Value) -> String {
    let connect = serde_json::json!({
        "do": "connect", "session": "a", "timeout_ms": 4000, "expect": {}
    });
    serde_json::json!({
        "schema": 1, "name": "bad", "about": "out of range", "tick_ms": tick_ms,
        "steps": [connect, step],
    })
    .to_string()
}

// Goal: a transcript's `fill` of 4 billion bytes, a wait of u32::MAX ms, a tick of 0 and too
// many send_then_disconnect steps are refused by `conform`, naming the file and the step,
// and a day's wait (the most allowed) is checked at once.
#[test]
fn a_transcript_out_of_range_is_refused_naming_its_step() {
    let dir = scratch("transcript");
    let create = |len: u64| {
        serde_json::json!({
            "do": "request", "session": "a", "expect": {},
            "request": {
                "op": "create", "path": "/a", "mode": "persistent", "stat": true,
                "data": {"fill": "x", "len": len},
            },
        })
    };
    let wait = |ms: u64| serde_json::json!({"do": "wait", "ms": ms, "expect": {}});
    // Each transcript is one line: a step's problem is on line 1.
    let cases = [
        (
            "fill",
            transcript(200, create(4_000_000_000)),
            ":1: step 1: `fill` len 4000000000 is over the limit of 1048576",
        ),
        (
            "wait",
            transcript(200, wait(u64::from(u32::MAX))),
            ":1: step 1: wait ms 4294967295 is over the limit of 86400000",
        ),
        ("tick", transcript(0, wait(1)), ": tick_ms 0"),
    ];
    for (name, text, message) in cases {
        let file = dir.join(format!("{name}.json"));
        std::fs::write(&file, text).unwrap();
        refused(
            &["conform", s(&file)],
            &format!("{}{message}", file.display()),
        );
    }
    let mut forks: Vec<serde_json::Value> = vec![serde_json::json!({
        "do": "connect", "session": "a", "timeout_ms": 4000, "expect": {}
    })];
    for i in 0..11 {
        forks.push(serde_json::json!({
            "do": "send_then_disconnect", "session": "a", "expect": {},
            "request": {"op": "create", "path": format!("/n{i}"), "data": "", "mode": "persistent", "stat": true},
        }));
        forks.push(serde_json::json!({"do": "reconnect", "session": "a", "expect": {}}));
    }
    let file = dir.join("forks.json");
    let text = serde_json::json!({"schema": 1, "name": "forks", "about": "x", "steps": forks});
    std::fs::write(&file, text.to_string()).unwrap();
    refused(
        &["conform", s(&file)],
        &format!(
            "{}:1: step 21: more than 10 send_then_disconnect steps",
            file.display()
        ),
    );
    // The longest wait is allowed and takes no time: a mismatch (nothing was recorded), not
    // a hang, even with a tick of 1 ms.
    let file = dir.join("day.json");
    std::fs::write(&file, transcript(1, wait(Options::DURATION_MS_MAX))).unwrap();
    let o = zksim(&["conform", s(&file)]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `text` with the byte 0xff put at the start of its line `line` (from 1); returns the bytes
/// and the byte offset of the 0xff.
fn not_utf8_at_line(text: &str, line: usize) -> (Vec<u8>, usize) {
    let offset: usize = text
        .split_inclusive('\n')
        .take(line - 1)
        .map(str::len)
        .sum();
    let mut bytes = text.as_bytes().to_vec();
    bytes.insert(offset, 0xff);
    (bytes, offset)
}

// Goal: a byte that is not UTF-8 in any input file (scenario, trace, transcript, script,
// simulate's summary) is refused by every command that reads it, naming the file, the line
// and the byte offset.
#[test]
fn invalid_utf8_in_any_input_file_is_refused_naming_line_and_byte() {
    let dir = scratch("utf8");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let read = |p: &str| std::fs::read_to_string(root.join(p)).unwrap();
    let good_trace = dir.join("good.jsonl");
    std::fs::write(&good_trace, election_trace(&dir)).unwrap();
    let out = dir.join("out");
    let files = [
        ("s.toml", read("scenarios/walkthrough.toml"), 3),
        ("t.jsonl", std::fs::read_to_string(&good_trace).unwrap(), 2),
        (
            "transcript.json",
            read("tests/conformance/transcripts/sync.json"),
            4,
        ),
        (
            "script.json",
            read("tests/conformance/scripts/sync.json"),
            5,
        ),
        (
            "summary.json",
            String::from_utf8(
                zksim(&[
                    "simulate", "--recipe", "election", "--seeds", "0..3", "--json",
                ])
                .stdout,
            )
            .unwrap(),
            6,
        ),
    ];
    for (name, text, line) in files {
        let file = dir.join(name);
        let (bytes, offset) = not_utf8_at_line(&text, line);
        std::fs::write(&file, bytes).unwrap();
        let naming = format!(
            "{}:{line}: invalid UTF-8 at byte offset {offset} (0 bytes into the line)",
            file.display()
        );
        let commands = match name {
            "s.toml" => vec![vec!["run", s(&file)]],
            "t.jsonl" => vec![
                vec!["replay", s(&file)],
                vec!["render", s(&file)],
                vec!["render", s(&file), "--html", s(&out)],
                vec!["shrink", s(&file), "-o", s(&out)],
                vec!["diff", s(&good_trace), s(&file)],
                vec!["confirm", s(&file)],
            ],
            "transcript.json" => vec![vec!["conform", s(&file)]],
            "summary.json" => vec![vec!["merge", s(&file)]],
            _ => vec![vec!["record", s(&file), "-o", s(&out)]],
        };
        for args in commands {
            refused(&args, &naming);
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// A script (no `expect`) or a transcript of a connect on line 6 and `step` on line 7.
fn two_steps(step: &str, recorded: bool) -> String {
    let expect = if recorded { r#", "expect": {}"# } else { "" };
    format!(
        "{{\n  \"schema\": 1,\n  \"name\": \"bad\",\n  \"about\": \"a bad step\",\n  \"steps\": [\n    \
         {{\"do\": \"connect\", \"session\": \"a\", \"timeout_ms\": 4000{expect}}},\n    {step}\n  ]\n}}\n"
    )
}

// Goal: a `restart_server` step with a field unknown, missing or of the wrong type, or a
// restart's measured times out of range, is refused by `record` (as a script) and `conform`
// (as a transcript), naming the file, the step's line and what is wrong; never a panic.
#[test]
fn a_bad_restart_step_is_refused_naming_file_line_and_problem() {
    let dir = scratch("restart-step");
    let out = dir.join("out");
    let cases = [
        (
            "field",
            r#"{"do": "restart_server", "session": "a"}"#,
            "step 1: unknown field `session`",
        ),
        (
            "variant",
            r#"{"do": "restart"}"#,
            "step 1: unknown variant `restart`, expected one of",
        ),
        ("tag", r#"{"session": "a"}"#, "step 1: missing field `do`"),
        (
            "type",
            r#"{"do": "restart_server", "expect": {"server_up_ms": "500"}}"#,
            "step 1: invalid type: string \"500\", expected u64",
        ),
        (
            "negative",
            r#"{"do": "restart_server", "expect": {"server_stop_ms": -1}}"#,
            "step 1: invalid value: integer `-1`, expected u64",
        ),
        (
            "measure",
            r#"{"do": "restart_server", "expect": {"server_down_ms": 5}}"#,
            "step 1: unknown field `server_down_ms`",
        ),
        (
            "range",
            r#"{"do": "restart_server", "expect": {"server_stop_ms": 86400001}}"#,
            "step 1: server_stop_ms 86400001 is over the limit of 86400000 (a day)",
        ),
    ];
    for (name, step, problem) in cases {
        let script = dir.join(format!("{name}-script.json"));
        std::fs::write(&script, two_steps(step, false)).unwrap();
        refused(
            &["record", s(&script), "-o", s(&out)],
            &format!("{}:7: not a valid script: {problem}", script.display()),
        );
        // A transcript's steps have an `expect`; the expectation cases carry theirs.
        let recorded = match step.contains("expect") {
            true => step.to_string(),
            false => step.replacen('}', r#", "expect": {}}"#, 1),
        };
        let transcript = dir.join(format!("{name}.json"));
        std::fs::write(&transcript, two_steps(&recorded, true)).unwrap();
        refused(
            &["conform", s(&transcript)],
            &format!("{}:7: {problem}", transcript.display()),
        );
    }
    // A recorded restart needs its expect.
    let transcript = dir.join("unrecorded.json");
    let text = two_steps(r#"{"do": "restart_server"}"#, true);
    std::fs::write(&transcript, text).unwrap();
    refused(
        &["conform", s(&transcript)],
        &format!(
            "{}:7: step 1 has no `expect`: this is a script",
            transcript.display()
        ),
    );
    let written = std::fs::read_dir(&out).map_or(0, |d| d.count());
    assert_eq!(written, 0, "nothing was recorded");
    std::fs::remove_dir_all(&dir).unwrap();
}
