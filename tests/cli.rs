//! The command line, as a user drives it: exit codes, summaries, and the reproduce command.

use std::process::{Command, Output};

mod common;
use common::{scratch, stdout, zksim};

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

// Goal: a count of one reads in the singular ("1 run", "1 step", "1 thread"), any other in
// the plural ("0 failures", "2 runs").
#[test]
fn a_count_of_one_is_singular() {
    let one = stdout(&zksim(&["simulate", "--recipe", "election", "--seed", "1"]));
    assert!(
        one.starts_with("simulate election: 1 run (seeds 1..2), "),
        "{one}"
    );
    assert!(one.contains(", 0 failures\n"), "{one}");
    assert!(one.contains("reached in 1/1 run\n"), "{one}");
    let two = stdout(&zksim(&[
        "simulate", "--recipe", "election", "--seeds", "0..2",
    ]));
    assert!(
        two.starts_with("simulate election: 2 runs (seeds 0..2), "),
        "{two}"
    );
    let run = stdout(&zksim(&["run", &catalog("election-assume-leader.toml")]));
    assert!(run.contains("at step 1 (1 step)\n"), "{run}");
    let check = stdout(&zksim(&[
        "check",
        "--recipe",
        "election",
        "--masters",
        "1",
        "--crashes-max",
        "0",
        "--kills-max",
        "0",
        "--disconnects-max",
        "0",
        "--expiries-max",
        "0",
        "--threads",
        "1",
    ]));
    assert!(check.contains(" states/s, 1 thread)\n"), "{check}");
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

// Goal: the reproduce command of a failure found with --write-fault-per-mille carries the
// knob (it was once left out, and seeds 3 and 4 of this range then passed when reproduced),
// and a flag given at its default is left out of it.
#[test]
fn the_reproduce_command_carries_every_option_that_is_not_its_default() {
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election-assume-leader",
        "--seeds",
        "0..5",
        "--write-fault-per-mille",
        "500",
        "--crashes-max",
        "2",
        "--json",
    ]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let failed = v["failed"].as_array().unwrap();
    assert!(failed.len() >= 2, "{v}");
    let dir = scratch("reproduce-knobs");
    for f in failed {
        let replay = f["replay"].as_str().unwrap();
        assert!(replay.contains(" --write-fault-per-mille 500 "), "{replay}");
        assert!(!replay.contains("--crashes-max"), "{replay}");
        let mut args: Vec<String> = replay
            .trim_start_matches("zksim ")
            .split(' ')
            .map(String::from)
            .collect();
        let at = args.iter().position(|a| a == "--trace").unwrap();
        args[at + 1] = dir.join("t.jsonl").display().to_string();
        let again = Command::new(env!("CARGO_BIN_EXE_zksim"))
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(again.status.code(), Some(1), "{replay} fails again");
    }
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
    let strict = zksim(&["simulate", "--recipe", "client-resubmits", "--seed", "45"]);
    assert_eq!(
        strict.status.code(),
        Some(1),
        "the first failing seed fails"
    );
    let lenient = zksim(&[
        "simulate",
        "--recipe",
        "client-resubmits",
        "--seed",
        "45",
        "--at-least-once",
    ]);
    assert_eq!(lenient.status.code(), Some(0), "{}", stdout(&lenient));
}

fn regression(name: &str) -> String {
    format!(
        "{}/scenarios/regressions/{name}",
        env!("CARGO_MANIFEST_DIR")
    )
}

// Goal: `zksim shrink` writes a shorter trace that replays byte for byte with the same
// violation and renders, and reports the steps and faults before and after.
#[test]
fn shrink_writes_a_shorter_trace_that_replays_and_renders() {
    let dir = scratch("shrink");
    let small = dir.join("small.jsonl");
    let input = regression("election-resign-blind-delete.seed-10.jsonl");
    let o = zksim(&["shrink", &input, "-o", small.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report = stdout(&o);
    assert!(report.contains("steps  37 -> "), "{report}");
    assert!(report.contains("faults 3 (crashes 0, kills 1, disconnects 2, expiries 0)"));
    let replayed = zksim(&["replay", small.to_str().unwrap()]);
    assert_eq!(replayed.status.code(), Some(0));
    assert!(stdout(&replayed).contains("violated: a leader with a live session owns /master"));
    let rendered = zksim(&["render", small.to_str().unwrap()]);
    assert!(stdout(&rendered).contains("# VIOLATED after step"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: `-o` naming the input is refused, and a failed shrink leaves no output file behind.
#[test]
fn shrink_never_overwrites_its_input_nor_leaves_a_half_written_file() {
    let dir = scratch("shrink-safe");
    let input = dir.join("in.jsonl");
    std::fs::copy(
        regression("election-resign-blind-delete.seed-10.jsonl"),
        &input,
    )
    .unwrap();
    let before = std::fs::read(&input).unwrap();
    let o = zksim(&[
        "shrink",
        input.to_str().unwrap(),
        "-o",
        input.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("refusing to write over it"));
    assert_eq!(std::fs::read(&input).unwrap(), before);
    let passing = dir.join("passing.jsonl");
    let out = dir.join("out.jsonl");
    zksim(&[
        "simulate",
        "--recipe",
        "election",
        "--seed",
        "1",
        "--trace",
        passing.to_str().unwrap(),
    ]);
    let o = zksim(&[
        "shrink",
        passing.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("breaks no property"));
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left.len(), 2, "only the two inputs remain: {left:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a trace diffed with itself is identical, exit 0.
#[test]
fn diff_of_a_trace_with_itself_says_identical() {
    let input = regression("no-fencing.seed-11.jsonl");
    let o = zksim(&["diff", &input, &input]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(stdout(&o).starts_with("identical"));
}

// Goal: two seeds' traces differ (exit 1): the header's seed, the first differing step with
// its context, a summary after it, and the znode tree at the divergence.
#[test]
fn diff_of_two_seeds_names_the_first_differing_step() {
    let dir = scratch("diff");
    let (a, b) = (dir.join("a.jsonl"), dir.join("b.jsonl"));
    for (seed, path) in [("1", &a), ("2", &b)] {
        zksim(&[
            "simulate",
            "--recipe",
            "election",
            "--seed",
            seed,
            "--trace",
            path.to_str().unwrap(),
        ]);
    }
    let o = zksim(&["diff", a.to_str().unwrap(), b.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = stdout(&o);
    assert!(text.contains("header: seed: 1 vs 2"), "{text}");
    assert!(
        text.contains("first difference at step 1 (line 3 of each file)"),
        "{text}"
    );
    assert!(
        text.contains("connected: session"),
        "the context is rendered: {text}"
    );
    assert!(text.contains("from step 1 on:"), "{text}");
    assert!(text.contains("znode tree after step 0"), "{text}");
    assert!(text.contains("/zookeeper/config"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: diff and shrink refuse a missing file, a malformed line, a truncated trace, another
// schema version and an unknown recipe with exit 2, naming the file, the line and the problem.
#[test]
fn diff_and_shrink_refuse_bad_traces_naming_the_file_and_line() {
    let dir = scratch("bad");
    let good = regression("election-resign-blind-delete.seed-10.jsonl");
    let text = std::fs::read_to_string(&good).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let write = |name: &str, body: String| {
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p.display().to_string()
    };
    let cases = [
        (
            dir.join("missing.jsonl").display().to_string(),
            "missing.jsonl",
        ),
        (
            write(
                "malformed.jsonl",
                format!("{}\n{{oops\n", lines[..3].join("\n")),
            ),
            "malformed.jsonl: line 4:",
        ),
        (
            write("truncated.jsonl", lines[..6].join("\n")),
            "truncated.jsonl: line 6: the trace is truncated",
        ),
        (
            write(
                "v1.jsonl",
                text.replacen("\"version\":2", "\"version\":1", 1),
            ),
            "v1.jsonl: line 1: trace version 1 is not supported",
        ),
        (
            write(
                "nope.jsonl",
                text.replacen("election-resign-blind-delete", "nope", 1),
            ),
            "nope.jsonl: line 1: unknown recipe \"nope\"",
        ),
    ];
    let out = dir.join("out.jsonl");
    for (path, wanted) in &cases {
        for args in [
            vec!["diff", &good, path],
            vec!["shrink", path, "-o", out.to_str().unwrap()],
        ] {
            let o = zksim(&args);
            assert_eq!(o.status.code(), Some(2), "{args:?}");
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains(wanted), "{args:?}: {err}");
            assert!(!err.contains("panicked"), "{args:?}: {err}");
        }
    }
    assert!(!out.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

fn catalog(name: &str) -> String {
    format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR"))
}

// Goal: `zksim run` prints one line per scenario with its verdict and steps, and exits 0
// when every expectation holds.
#[test]
fn run_prints_a_line_per_scenario_and_exits_0_when_all_hold() {
    let o = zksim(&[
        "run",
        &catalog("walkthrough.toml"),
        &catalog("client-resubmits.toml"),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = stdout(&o);
    assert!(text.contains("ok    walkthrough       passed ("), "{text}");
    assert!(
        text.contains("ok    client-resubmits  violated \"a status is written once\" at step"),
        "{text}"
    );
    assert!(text.contains("2 scenarios: 2 as expected, 0 not"), "{text}");
}

// Goal: a failed expectation exits 1, says what happened and prints the commands that
// reproduce it, which write a trace that replays and renders.
#[test]
fn a_failed_expectation_says_what_happened_and_how_to_reproduce_it() {
    let dir = scratch("run-fail");
    let file = dir.join("zombie.toml");
    let text = std::fs::read_to_string(catalog("zombie-master-no-fencing.toml")).unwrap();
    std::fs::write(
        &file,
        text.replace(
            "expect = \"assignments",
            "expect = \"pass\"\n# \"assignments",
        ),
    )
    .unwrap();
    let o = zksim(&["run", file.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let out = stdout(&o);
    assert!(out.starts_with("FAIL  zombie  violated"), "{out}");
    assert!(out.contains("expected pass, but violated"), "{out}");
    assert!(
        out.contains("fault line 14: disconnect m1 at 500ms: taken at step"),
        "{out}"
    );
    let line = out
        .lines()
        .find(|l| l.trim_start().starts_with("reproduce: "))
        .expect("a reproduce line");
    assert!(
        line.ends_with("--trace zombie.jsonl && zksim render zombie.jsonl"),
        "{line}"
    );
    let trace = dir.join("zombie.jsonl");
    let o = zksim(&[
        "run",
        file.to_str().unwrap(),
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(
        zksim(&["replay", trace.to_str().unwrap()]).status.code(),
        Some(0)
    );
    let o = zksim(&["render", trace.to_str().unwrap()]);
    assert!(stdout(&o).contains("m1     DISCONNECTED"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: one bad file among good ones is refused with its name, line and problem, exit 2,
// and nothing runs.
#[test]
fn run_validates_every_file_before_running_any() {
    let dir = scratch("run-bad");
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n\n[[fault]]\naction = \"crash\"\nprocess = \"w9\"\nat_ms = 10\n",
    )
    .unwrap();
    let o = zksim(&["run", &catalog("walkthrough.toml"), bad.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "", "nothing ran");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(&format!("{}:7: no process \"w9\"", bad.display())),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `zksim check` of an election recipe with this many candidates and one disconnect, no other
/// fault, and the `extra` flags.
fn check_one_disconnect(recipe: &str, masters: &str, extra: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--recipe",
        recipe,
        "--masters",
        masters,
        "--disconnects-max",
        "1",
        "--crashes-max",
        "0",
        "--kills-max",
        "0",
        "--expiries-max",
        "0",
    ];
    args.extend_from_slice(extra);
    zksim(&args)
}

// Goal: `zksim check` exits 1 on a mutant, its --json names the property, and --dot writes the
// state graph with the counterexample in red and each transition labeled.
#[test]
fn check_finds_a_mutant_and_writes_its_state_graph() {
    let dir = scratch("check-dot");
    let dot = dir.join("g.dot");
    let o = check_one_disconnect(
        "election-assume-leader",
        "2",
        &["--json", "--dot", dot.to_str().unwrap()],
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["verdict"], "violated");
    assert_eq!(v["property"], "a leader with a live session owns /master");
    let text = std::fs::read_to_string(&dot).unwrap();
    assert!(text.starts_with("digraph"), "{text}");
    assert!(text.contains("label=\"disconnect c1\""), "{text}");
    assert!(text.contains("color=red"), "{text}");
}

/// The DOT text's node labels by state id and its edge labels, each as written (escapes kept),
/// the node's `#id` line left out.
fn dot_labels(dot: &str) -> (Vec<String>, Vec<String>) {
    let label = |line: &str| -> Option<String> {
        let start = line.find("label=\"")? + "label=\"".len();
        let end = line.find("\" shape").or_else(|| line.find("\" fontname"))?;
        Some(line[start..end].to_string())
    };
    let mut nodes = Vec::new();
    let mut edges = Vec::new();
    for line in dot.lines().map(str::trim) {
        let Some(l) = label(line) else { continue };
        if line.split_whitespace().nth(1) == Some("->") {
            edges.push(l);
        } else {
            let (id, rest) = l.split_once("\\n").expect("a #id line");
            assert_eq!(id, format!("#{}", nodes.len()), "{line}");
            nodes.push(rest.to_string());
        }
    }
    (nodes, edges)
}

// Goal: in the one-candidate election's graph every state's label tells it apart (the znodes,
// the requests on the way, the replies on the way back, the faults left or used), and each
// edge names the request it takes to the server or the reply it delivers.
#[test]
fn check_labels_each_graph_state_by_what_tells_it_apart_and_each_edge_by_its_message() {
    let dir = scratch("check-dot-labels");
    let dot = dir.join("g.dot");
    let o = check_one_disconnect("election", "1", &["--dot", dot.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    let text = std::fs::read_to_string(&dot).unwrap();
    // The same search labels the same graph the same way, byte for byte.
    let again = dir.join("again.dot");
    check_one_disconnect("election", "1", &["--dot", again.to_str().unwrap()]);
    assert_eq!(text, std::fs::read_to_string(&again).unwrap());
    let (nodes, edges) = dot_labels(&text);
    assert_eq!(nodes.len(), 43);
    let mut seen = std::collections::BTreeMap::new();
    for (id, l) in nodes.iter().enumerate() {
        if let Some(other) = seen.insert(l.clone(), id) {
            panic!("states #{other} and #{id} are both labeled {l:?}");
        }
    }
    // The znodes, and the request and reply on their way, are in the labels.
    let has = |what: &str| nodes.iter().any(|l| l.contains(what));
    assert!(has("/master \\\"c1\\\" (c1)"), "{nodes:#?}");
    assert!(has("  -> create -e /master"), "{nodes:#?}");
    assert!(
        has("  <- create -e /master \\\"c1\\\" -> /master"),
        "{nodes:#?}"
    );
    assert!(has("(faults over after 1 disconnect)"), "{nodes:#?}");
    // Every request taken and every reply delivered says which.
    for e in &edges {
        assert!(
            e != "c1 -> zk" && e != "zk -> c1",
            "an edge without its message: {e}"
        );
    }
    for wanted in [
        "c1: create -e /master \\\"c1\\\"",
        "zk -> c1: create -e /master \\\"c1\\\" -> /master",
        "zk -> c1: get /master -> NoNode",
        "c1: delete /master",
        "disconnect c1",
    ] {
        assert!(
            edges.iter().any(|e| e == wanted),
            "no edge {wanted:?} in {edges:#?}"
        );
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: --svg draws the state graph with Graphviz, every state a node. Without Graphviz the
// test skips, except in CI, which sets ZKSIM_REQUIRE_GRAPHVIZ=1.
#[test]
fn check_draws_the_state_graph_as_svg_with_graphviz() {
    let dir = scratch("check-svg");
    let svg = dir.join("g.svg");
    let have_dot = Command::new("dot").arg("-V").output().is_ok();
    if !have_dot && std::env::var_os("ZKSIM_REQUIRE_GRAPHVIZ").is_none() {
        eprintln!("SKIPPED: Graphviz's dot is not installed (.ci/install-graphviz installs it)");
        return;
    }
    let o = check_one_disconnect("election", "1", &["--svg", svg.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.contains("<svg"), "{text}");
    // 43 states (63 before the last fault and the stop of faults became one transition, 53
    // before states that differ only in the faults used once faults are over became one),
    // each a node of the drawing.
    assert_eq!(text.matches("class=\"node\"").count(), 43);
}

// Goal: a graph over --graph-states-max is an incomplete search (exit 3): check prints its
// verdict and counts as for any limit, says the graph was not written and how to raise the
// limit, and leaves no file; --json stays one JSON document.
#[test]
fn check_over_the_graph_limit_prints_an_incomplete_verdict_and_writes_no_graph() {
    let dir = scratch("check-graph-limit");
    let dot = dir.join("g.dot");
    let svg = dir.join("g.svg");
    let o = check_one_disconnect(
        "election",
        "1",
        &[
            "--dot",
            dot.to_str().unwrap(),
            "--svg",
            svg.to_str().unwrap(),
            "--graph-states-max",
            "10",
        ],
    );
    let (out, err) = (stdout(&o), common::stderr(&o));
    assert_eq!(o.status.code(), Some(3), "{out}{err}");
    assert!(
        out.starts_with("check election: incomplete (10 states, "),
        "{out}"
    );
    assert!(
        out.contains("stopped by --graph-states-max: raise it"),
        "{out}"
    );
    assert!(
        err.contains(&format!(
            "{}, {}: not written: the graph is incomplete: --graph-states-max 10 stopped the \
             search at 10 states, ",
            dot.display(),
            svg.display()
        )),
        "{err}"
    );
    assert!(
        err.contains("raise --graph-states-max (at most 100000)"),
        "{err}"
    );
    assert!(!err.contains("panicked") && !err.contains("error"), "{err}");
    assert!(!dot.exists() && !svg.exists());

    let o = check_one_disconnect(
        "election",
        "1",
        &[
            "--json",
            "--dot",
            dot.to_str().unwrap(),
            "--graph-states-max",
            "10",
        ],
    );
    assert_eq!(o.status.code(), Some(3), "{}", common::stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("one JSON document");
    assert_eq!(v["verdict"], "incomplete");
    assert_eq!(v["stopped_by"], "graph-states-max");
    assert_eq!(v["states"], 10);

    // At the graph's own size the search is whole, verified, and the graph written.
    let o = check_one_disconnect(
        "election",
        "1",
        &["--dot", dot.to_str().unwrap(), "--graph-states-max", "43"],
    );
    assert_eq!(o.status.code(), Some(0), "{}", common::stderr(&o));
    assert!(stdout(&o).starts_with("check election: verified (43 states"));
    assert!(dot.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `zksim check` of the cluster in this shape (masters, workers, clients, tasks a client), no
/// fault but the `extra` flags' budgets.
fn check_cluster(recipe: &str, shape: [&str; 4], extra: &[&str]) -> Output {
    let mut args = vec![
        "check",
        "--recipe",
        recipe,
        "--masters",
        shape[0],
        "--workers",
        shape[1],
        "--clients",
        shape[2],
        "--tasks",
        shape[3],
    ];
    for budget in [
        "--crashes-max",
        "--kills-max",
        "--disconnects-max",
        "--expiries-max",
    ] {
        if !extra.contains(&budget) {
            args.extend([budget, "0"]);
        }
    }
    args.extend_from_slice(extra);
    args.push("--json");
    zksim(&args)
}

// Goal: `zksim check` verifies the cluster with partial-order reduction and zxids forgotten
// (the default), reports how much it reduced, and agrees with the search of every
// interleaving and zxid (`--no-reduction --exact-zxids`), which visits more states.
#[test]
fn check_verifies_the_cluster_with_and_without_its_reductions() {
    let shape = ["1", "1", "0", "0"];
    let o = check_cluster("fixed", shape, &[]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let reduced: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(reduced["verdict"], "verified");
    assert_eq!(reduced["reduction"], true);
    assert!(reduced["reduced_states"].as_u64().unwrap() > 0, "{reduced}");
    // The breakdown by action accounts for every transition and every state but the start.
    let by_action = reduced["by_action"].as_array().unwrap();
    let sum = |field: &str| -> u64 { by_action.iter().map(|a| a[field].as_u64().unwrap()).sum() };
    assert_eq!(sum("transitions"), reduced["transitions"].as_u64().unwrap());
    assert_eq!(sum("states") + 1, reduced["states"].as_u64().unwrap());
    assert_eq!(by_action[0]["action"], "to_server", "{reduced}");
    let odds = reduced["fingerprint_collision_odds"].as_f64().unwrap();
    assert!(odds > 0.0 && odds < 1e-9, "{reduced}");
    let o = check_cluster("fixed", shape, &["--no-reduction", "--exact-zxids"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let whole: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(whole["verdict"], "verified");
    assert_eq!(
        (whole["reduction"].clone(), whole["reduced_states"].clone()),
        (false.into(), 0.into())
    );
    assert!(
        whole["states"].as_u64().unwrap() > 10 * reduced["states"].as_u64().unwrap(),
        "{whole} against {reduced}"
    );
}

/// Checks a cluster mutant (as [`check_cluster`]) that must break `property`, writing its
/// counterexample to a trace in a fresh directory named `dir`; replays the trace, which must
/// re-execute byte for byte and meet the same violation; returns the trace's path.
fn found_and_replayed(
    dir: &str,
    recipe: &str,
    shape: [&str; 4],
    extra: &[&str],
    property: &str,
) -> std::path::PathBuf {
    let trace = scratch(dir).join("cx.jsonl");
    let mut args = extra.to_vec();
    args.extend(["--trace", trace.to_str().unwrap()]);
    let o = check_cluster(recipe, shape, &args);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["property"], property);
    let o = zksim(&["replay", trace.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let out = stdout(&o);
    assert!(out.contains("byte-identical"), "{out}");
    assert!(out.contains(&format!("violated: {property}")), "{out}");
    trace
}

// Goal: a cluster mutant found by `zksim check` comes with a counterexample trace that
// `zksim replay` re-executes.
#[test]
fn check_finds_a_cluster_mutant_with_a_trace_that_replays() {
    found_and_replayed(
        "check-cluster",
        "blind-master-retry",
        ["1", "0", "0", "0"],
        &["--disconnects-max", "1"],
        "a master is elected once faults stop",
    );
}

// Goal: `--queued` gives the cluster tasks without a client process: a mutant is found there,
// its trace replays, and the render shows the queued task created before any process starts.
#[test]
fn check_runs_a_cluster_with_a_queued_task() {
    let trace = found_and_replayed(
        "check-queued",
        "sorted-children",
        ["1", "1", "0", "0"],
        &["--queued", "1"],
        "every submitted task completes and its client is notified",
    );
    let o = zksim(&["render", trace.to_str().unwrap()]);
    let out = stdout(&o);
    let queued = out
        .find("created /tasks/task-q.0-1-0000000000")
        .unwrap_or_else(|| panic!("{out}"));
    let first_process = out
        .find("m1     connected")
        .unwrap_or_else(|| panic!("{out}"));
    assert!(queued < first_process, "{out}");
}

// Goal: a cluster search stopped by a limit suggests queuing tasks instead of running clients,
// and says nothing of it when there is no client.
#[test]
fn a_stopped_cluster_search_suggests_queued_tasks() {
    let hint = "--clients 0 --queued 1";
    let run = |clients: &str, extra: &[&str]| {
        let mut args = vec![
            "check",
            "--recipe",
            "fixed",
            "--masters",
            "1",
            "--workers",
            "1",
            "--clients",
            clients,
            "--crashes-max",
            "0",
            "--kills-max",
            "0",
            "--disconnects-max",
            "0",
            "--expiries-max",
            "0",
            "--states-max",
            "100",
        ];
        args.extend_from_slice(extra);
        let o = zksim(&args);
        // A search a limit stopped proved nothing: exit 3, neither pass (0) nor violation (1).
        assert_eq!(o.status.code(), Some(3), "{}", stdout(&o));
        stdout(&o)
    };
    let out = run("1", &[]);
    assert!(out.contains(hint), "{out}");
    let out = run("0", &["--queued", "1"]);
    assert!(
        out.contains("stopped by --states-max") && !out.contains(hint),
        "{out}"
    );
}

// Goal: a CI job can tell the three endings of `zksim check` apart by the exit code alone, with
// or without --json: 0 verified, 1 violated, 3 incomplete (2 is bad input).
#[test]
fn check_exits_0_verified_1_violated_3_incomplete() {
    let shape = ["1", "0", "0", "0"];
    for (recipe, extra, code, verdict) in [
        ("fixed", &["--disconnects-max", "1"][..], 0, "verified"),
        (
            "blind-master-retry",
            &["--disconnects-max", "1"][..],
            1,
            "violated",
        ),
        (
            "fixed",
            &["--disconnects-max", "1", "--states-max", "10"][..],
            3,
            "incomplete",
        ),
    ] {
        let o = check_cluster(recipe, shape, extra);
        assert_eq!(
            o.status.code(),
            Some(code),
            "{recipe} {extra:?}: {}",
            stdout(&o)
        );
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verdict"], verdict, "{recipe} {extra:?}");
    }
}

// Goal: `replay` tells bad input (a file that is no trace: exit 2, naming the file) from a
// trace that replays differently (exit 1), as `render` and `shrink` do.
#[test]
fn replay_exits_2_for_a_file_that_is_no_trace_and_1_for_a_divergence() {
    let dir = scratch("replay-exit-codes");
    let junk = dir.join("junk.jsonl");
    std::fs::write(&junk, "this is not a trace\n").unwrap();
    let o = zksim(&["replay", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2), "{}", stdout(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("junk.jsonl"));
    // A real trace with one event's text changed replays differently.
    let trace = dir.join("seed-3.jsonl");
    let o = zksim(&[
        "simulate",
        "--recipe",
        "fixed",
        "--seed",
        "3",
        "--trace",
        trace.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
    let text = std::fs::read_to_string(&trace).unwrap();
    let edited = text.replacen("\"xid\":1", "\"xid\":99", 1);
    assert_ne!(edited, text, "the trace has an xid 1");
    std::fs::write(&trace, edited).unwrap();
    let o = zksim(&["replay", trace.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
}

// Goal: a bare `zksim check`, of the election or of the cluster, finishes verified on
// check's own defaults (one disconnect, a small shape), and `--help` shows each of them.
#[test]
fn check_with_no_flags_finishes_verified_and_shows_its_defaults() {
    for recipe in ["election", "fixed"] {
        let o = zksim(&["check", "--recipe", recipe, "--json"]);
        assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["verdict"], "verified", "{v}");
        // The one disconnect allowed was taken somewhere: the search covered a fault.
        let by_action = v["by_action"].as_array().unwrap();
        assert!(
            by_action.iter().any(|a| a["action"] == "disconnect"),
            "{recipe}: {v}"
        );
    }
    let help = stdout(&zksim(&["check", "--help"]));
    for (flag, default) in [
        ("--crashes-max", "[default: 0]"),
        ("--kills-max", "[default: 0]"),
        ("--disconnects-max", "[default: 1]"),
        ("--expiries-max", "[default: 0]"),
        ("--masters", "[default: 2]"),
        ("--workers", "[default: 1]"),
        ("--clients", "[default: 0]"),
        ("--tasks", "[default: 1]"),
        ("--queued", "[default: 1 without --clients, else 0]"),
        ("--states-max", "[default: 2000000]"),
        ("--strategy", "[default: bfs]"),
    ] {
        let at = help
            .find(&format!("{flag} "))
            .unwrap_or_else(|| panic!("{help}"));
        let entry = &help[at..];
        let entry = &entry[..entry[2..].find("\n  -").map_or(entry.len(), |e| e + 2)];
        assert!(entry.contains(default), "{flag}: {entry}");
    }
}

// Goal: the simulator's knobs, which mean nothing to an exhaustive search, are refused by
// `check` with exit 2 and the reason, and none of them is listed in its help.
#[test]
fn check_refuses_the_simulators_flags_with_the_reason() {
    let help = stdout(&zksim(&["check", "--help"]));
    for (args, why) in [
        (&["--time", "timed"][..], "check abstracts time"),
        (&["--tick-ms", "100"], "check abstracts time"),
        (&["--session-timeout-ms", "100"], "check abstracts time"),
        (&["--message-delay-ms-max", "5"], "check abstracts time"),
        (
            &["--fault-per-mille", "50"],
            "every fault the budgets allow",
        ),
        (
            &["--repair-per-mille", "50"],
            "every fault the budgets allow",
        ),
        (&["--steps-max", "10"], "--depth-max bounds"),
        (&["--liveness-steps-max", "10"], "--depth-max bounds"),
        (&["--seed", "1"], "takes no seed"),
        (&["--seeds", "0..10"], "takes no seed"),
        (&["--swarm"], "takes no seed"),
        (&["--jobs", "2"], "--threads"),
    ] {
        let mut all = vec!["check"];
        all.extend_from_slice(args);
        let o = zksim(&all);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{all:?}: {err}");
        assert!(err.contains(args[0]) && err.contains(why), "{all:?}: {err}");
        assert!(stdout(&o).is_empty(), "{all:?}: nothing was searched");
        assert!(!help.contains(args[0]), "{} is in check's help", args[0]);
    }
}

// Goal: a cluster-shape flag on a recipe without that role (the election's processes are all
// candidates) is refused by every command that takes a shape, naming the flag.
#[test]
fn a_shape_flag_for_a_role_the_recipe_has_not_is_refused() {
    for recipe in ["election", "election-assume-leader"] {
        for flag in ["--workers", "--clients", "--tasks", "--queued"] {
            for command in [
                &["check"][..],
                &["simulate", "--seed", "1"],
                &["simulate", "--seed", "1", "--swarm"],
            ] {
                let mut args = command.to_vec();
                args.extend(["--recipe", recipe, flag, "1"]);
                let o = zksim(&args);
                let err = String::from_utf8_lossy(&o.stderr);
                assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
                assert!(
                    err.contains(&format!("{flag}: recipe {recipe} has no ")),
                    "{args:?}: {err}"
                );
                assert!(stdout(&o).is_empty(), "nothing ran: {}", stdout(&o));
            }
        }
    }
    // The election's one role is still counted by --masters.
    let o = zksim(&["check", "--recipe", "election", "--masters", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stdout(&o));
}

// Goal: `simulate --swarm` draws only the fault knobs from the seed; the other flags (time,
// phase lengths, child order, shape, unchecked properties) apply to the run, and the trace
// it writes says so (they were once silently replaced by the defaults).
#[test]
fn swarm_keeps_the_flags_it_does_not_draw() {
    use zksim_sim::options::{Options, TimeMode};
    let dir = scratch("swarm-keeps");
    let path = dir.join("t.jsonl");
    let o = zksim(&[
        "simulate",
        "--seed",
        "3",
        "--swarm",
        "--time",
        "abstract",
        "--steps-max",
        "40",
        "--liveness-steps-max",
        "300",
        "--child-order",
        "sorted",
        "--workers",
        "1",
        "--tasks",
        "1",
        "--trace",
        path.to_str().unwrap(),
    ]);
    assert!(matches!(o.status.code(), Some(0 | 1)), "{}", stdout(&o));
    let text = std::fs::read_to_string(&path).unwrap();
    let h = zksim_sim::trace::parse(&text).unwrap().header;
    assert!(h.swarm);
    let o = &h.options;
    assert_eq!(o.time, TimeMode::Abstract);
    assert_eq!((o.steps_max, o.liveness_steps_max), (40, 300));
    assert_eq!(o.child_order, zksim_model::children::ChildOrder::Sorted);
    assert_eq!((o.shape.workers, o.shape.tasks), (Some(1), Some(1)));
    assert_eq!(h.processes, ["m1", "m2", "w1", "c1", "c2"]);
    // The fault knobs are the seed's draw.
    assert_eq!(o.not_swarmed(3), None);
    assert_eq!(o.crashes_max, Options::swarm(3).crashes_max);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Starts `zksim ARGS`, lets it work for a second, sends it SIGINT, and returns what it said
/// and its exit code.
// the test interrupts a real process after a moment of real time
#[allow(clippy::disallowed_methods)]
fn interrupted(args: &[&str]) -> (Option<i32>, String, String) {
    let child = Command::new(env!("CARGO_BIN_EXE_zksim"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_secs(1));
    let sent = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let out = child.wait_with_output().unwrap();
    (out.status.code(), stdout(&out), common::stderr(&out))
}

// Goal: Ctrl-C to a long check says how far the search got and under which limits, claims
// nothing, and exits 130; the same to a long simulation says how many seeds ran and failed.
#[test]
fn an_interrupted_command_says_how_far_it_got() {
    let (code, out, err) = interrupted(&[
        "check",
        "--recipe",
        "fixed",
        "--masters",
        "2",
        "--workers",
        "2",
        "--clients",
        "1",
        "--tasks",
        "1",
        "--disconnects-max",
        "1",
        "--states-max",
        "1000000000",
    ]);
    assert_eq!(code, Some(130), "{err}");
    assert!(out.is_empty(), "no verdict: {out}");
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains("the search had visited ") && line.contains(" states, "),
        "{line}"
    );
    assert!(
        line.contains("--states-max 1000000000") && line.ends_with("nothing is proved"),
        "{line}"
    );

    let (code, out, err) =
        interrupted(&["simulate", "--recipe", "fixed", "--seeds", "0..100000000"]);
    assert_eq!(code, Some(130), "{err}");
    assert!(out.is_empty(), "no summary: {out}");
    let line = err
        .lines()
        .find(|l| l.starts_with("interrupted: "))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(
        line.contains(" of 100000000 seeds run (seeds 0..100000000), "),
        "{line}"
    );
    assert!(line.ends_with(" so far"), "{line}");
}
