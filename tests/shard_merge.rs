//! `simulate --shard I/N` and `zksim merge`: shards of a range merge into exactly what one run
//! over the range prints, and summaries that do not fit together are refused; `--coverage`
//! counts protocol points and merges alike.

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::{s, scratch, stderr, stdout, zksim};

/// Runs `simulate ARGS --shard I/N --json` for every I, writing `shard-I.json` into `dir`;
/// the files, in shard order.
fn shards(dir: &Path, args: &[&str], n: u64) -> Vec<PathBuf> {
    (0..n)
        .map(|i| {
            let shard = format!("{i}/{n}");
            let mut all = vec!["simulate"];
            all.extend(args);
            all.extend(["--shard", &shard, "--json"]);
            let o = zksim(&all);
            assert!(
                matches!(o.status.code(), Some(0 | 1)),
                "{all:?}: {}",
                stderr(&o)
            );
            let path = dir.join(format!("shard-{i}.json"));
            std::fs::write(&path, &o.stdout).unwrap();
            path
        })
        .collect()
}

fn simulate(args: &[&str], more: &[&str]) -> Output {
    let mut all = vec!["simulate"];
    all.extend(args);
    all.extend(more);
    zksim(&all)
}

/// The flags of `Options::unaimed` (faults at a uniform rate only), with `set` (a flag and
/// its value) in place of that flag's: the base the coverage tests compare aimed faults with.
fn unaimed(set: [&'static str; 2]) -> Vec<&'static str> {
    let mut flags = vec![
        ["--fault-per-mille", "50"],
        ["--write-fault-per-mille", "0"],
        ["--notify-fault-per-mille", "0"],
        ["--leader-fault-per-mille", "0"],
        ["--sites-one-in", "4"],
    ];
    for flag in &mut flags {
        if flag[0] == set[0] {
            *flag = set;
        }
    }
    flags.concat()
}

fn merge(files: &[&Path], more: &[&str]) -> Output {
    let mut all = vec!["merge"];
    all.extend(files.iter().map(|p| s(p)));
    all.extend(more);
    zksim(&all)
}

/// The merge of `files`, which must be refused: its standard error.
fn refused(files: &[&Path]) -> String {
    let o = merge(files, &["--json"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{files:?}: {err}{}", stdout(&o));
    assert!(stdout(&o).is_empty(), "{files:?}: nothing merged");
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// Checks that four shards of `args` merge, in a shuffled order, into exactly the single
/// run's output, JSON and text, and exit as it does.
fn merges_as_one_run(name: &str, args: &[&str]) -> serde_json::Value {
    let dir = scratch(name);
    let files = shards(&dir, args, 4);
    let shuffled: Vec<&Path> = [2, 0, 3, 1].iter().map(|&i| files[i].as_path()).collect();
    let whole = simulate(args, &["--json"]);
    let merged = merge(&shuffled, &["--json"]);
    assert_eq!(
        merged.status.code(),
        whole.status.code(),
        "{}",
        stderr(&merged)
    );
    assert_eq!(stdout(&merged), stdout(&whole), "the JSON summaries differ");
    let text = simulate(args, &[]);
    let merged_text = merge(&shuffled, &[]);
    assert_eq!(merged_text.status.code(), text.status.code());
    assert_eq!(
        stdout(&merged_text),
        stdout(&text),
        "the printed summaries differ"
    );
    std::fs::remove_dir_all(&dir).unwrap();
    serde_json::from_slice(&whole.stdout).unwrap()
}

// Goal: four shards of a range with failures (and coverage) merge into the single run's
// summary byte for byte, JSON and text, failures in seed order, exit 1 as the run.
#[test]
fn four_shards_of_a_failing_range_merge_into_the_single_runs_summary() {
    let v = merges_as_one_run(
        "merge-failing",
        &[
            "--recipe",
            "election-assume-leader",
            "--seeds",
            "7..90",
            "--write-fault-per-mille",
            "200",
            "--coverage",
        ],
    );
    let seeds: Vec<u64> = v["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["seed"].as_u64().unwrap())
        .collect();
    assert!(
        seeds.len() > 10,
        "a range with failures in every shard: {seeds:?}"
    );
    assert!(
        (0..4).all(|i| seeds.iter().any(|s| (s - 7) % 4 == i)),
        "{seeds:?}"
    );
}

// Goal: four shards of a passing swarm range of the cluster merge into the single run's
// summary byte for byte, exit 0 as the run.
#[test]
fn four_shards_of_a_passing_swarm_range_merge_into_the_single_runs_summary() {
    let v = merges_as_one_run(
        "merge-passing",
        &[
            "--recipe",
            "fixed",
            "--seeds",
            "100..141",
            "--swarm",
            "--coverage",
        ],
    );
    assert_eq!(v["failures"], 0);
    assert_eq!(v["runs"], 41);
}

// Goal: shard I/N runs exactly the seeds A+I, A+I+N, ... of the range: its failures are the
// single run's failures of those seeds, and its runs their number.
#[test]
fn a_shard_runs_every_nth_seed_of_the_range() {
    let args = ["--recipe", "election-assume-leader", "--seeds", "10..60"];
    let whole: serde_json::Value =
        serde_json::from_slice(&simulate(&args, &["--json"]).stdout).unwrap();
    let failed = |v: &serde_json::Value| -> Vec<u64> {
        v["failed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["seed"].as_u64().unwrap())
            .collect()
    };
    let o = simulate(&args, &["--shard", "2/3", "--json"]);
    let shard: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(shard["runs"], 16, "seeds 12, 15, ..., 57");
    assert_eq!(shard["shard"], serde_json::json!({"index": 2, "count": 3}));
    let expected: Vec<u64> = failed(&whole)
        .into_iter()
        .filter(|s| (s - 10) % 3 == 2)
        .collect();
    assert!(!expected.is_empty());
    assert_eq!(failed(&shard), expected);
    let text = stdout(&simulate(&args, &["--shard", "2/3"]));
    assert!(
        text.starts_with("simulate election-assume-leader: 16 runs (seeds 10..60, shard 2/3), "),
        "{text}"
    );
}

// Goal: a shard with no seed of a small range runs nothing and still merges; a single
// summary (no --shard) merges into itself.
#[test]
fn an_empty_shard_and_a_whole_range_merge_too() {
    let dir = scratch("merge-small");
    let args = ["--recipe", "election", "--seeds", "0..3"];
    let files = shards(&dir, &args, 5);
    let empty: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&files[4]).unwrap()).unwrap();
    assert_eq!(empty["runs"], 0);
    let all: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let whole = simulate(&args, &["--json"]);
    assert_eq!(stdout(&merge(&all, &["--json"])), stdout(&whole));
    let single = dir.join("whole.json");
    std::fs::write(&single, &whole.stdout).unwrap();
    assert_eq!(stdout(&merge(&[&single], &["--json"])), stdout(&whole));
    // A trace of a shard that holds no seed cannot be written.
    let trace = dir.join("t.jsonl");
    let o = simulate(&args, &["--shard", "4/5", "--trace", s(&trace)]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--trace: shard 4/5 of seeds 0..3 holds no seed"));
    assert!(!trace.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a bad --shard is refused with exit 2 naming the flag and the value, never a panic,
// and nothing runs.
#[test]
fn a_bad_shard_is_refused_naming_the_flag_and_the_value() {
    let cases = [
        ("4/4", "the shard index 4 is not below the count 4"),
        ("9/4", "not below the count 4"),
        ("0/0", "the shard count 0 is not in 1..=100000"),
        ("0/100001", "the shard count 100001 is not in 1..=100000"),
        ("3", "is not a shard like 0/4"),
        ("a/4", "\"a\" in \"a/4\" is not a shard index"),
        ("1/b", "\"b\" in \"1/b\" is not a shard count"),
        ("1/2/3", "\"2/3\" in \"1/2/3\" is not a shard count"),
        ("-1/4", "not a shard index"),
        ("", "is not a shard like 0/4"),
        ("99999999999999999999/4", "is not a shard index"),
    ];
    for (value, why) in cases {
        // `--shard=VALUE`, so that a value starting with `-` is the flag's.
        let flag = format!("--shard={value}");
        let o = zksim(&[
            "simulate", "--recipe", "election", "--seeds", "0..10", &flag,
        ]);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{value:?}: {err}");
        assert!(err.contains("--shard"), "{value:?}: {err}");
        assert!(
            err.contains(&format!("'{value}'")),
            "{value:?} is named: {err}"
        );
        assert!(err.contains(why), "{value:?}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(stdout(&o).is_empty(), "{value:?}: nothing ran");
    }
    let o = zksim(&[
        "simulate", "--recipe", "election", "--seed", "3", "--shard", "0/2",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("--shard") && err.contains("--seed"), "{err}");
}

/// `file` with `edit` applied to its JSON, written as `name` in `dir`.
fn edited(dir: &Path, file: &Path, name: &str, edit: impl Fn(&mut serde_json::Value)) -> PathBuf {
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap();
    edit(&mut v);
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    path
}

// Goal: merge refuses, with exit 2 and the file named, summaries that do not make up one
// run: a shard missing or given twice, another recipe, options, range, swarm, coverage or
// shard count, counts a shard's slice cannot have, and files that are not summaries.
#[test]
fn merge_refuses_summaries_that_do_not_fit_together() {
    let dir = scratch("merge-refuses");
    let args = ["--recipe", "election-assume-leader", "--seeds", "0..40"];
    let f = shards(&dir, &args, 4);
    let [a, b, c, d] = [&f[0], &f[1], &f[2], &f[3]].map(PathBuf::as_path);
    // The four merge.
    assert_eq!(merge(&[a, b, c, d], &[]).status.code(), Some(1));

    let err = refused(&[a, b, d]);
    assert!(
        err.contains("missing 1 of the 4 shards of seeds 0..40: 2/4"),
        "{err}"
    );
    let err = refused(&[a, b, c, b, d]);
    assert!(err.contains("shard 1/4 is also"), "{err}");

    let other = |name: &str, more: &[&str], shard: &str| {
        let mut all = vec!["simulate"];
        all.extend(more);
        all.extend(["--shard", shard, "--json"]);
        let path = dir.join(name);
        std::fs::write(&path, zksim(&all).stdout).unwrap();
        path
    };
    let recipe = other(
        "recipe.json",
        &["--recipe", "election", "--seeds", "0..40"],
        "2/4",
    );
    let err = refused(&[a, b, &recipe, d]);
    assert!(
        err.contains("recipe.json: recipe \"election\", but "),
        "{err}"
    );
    let options = other(
        "options.json",
        &[
            "--recipe",
            "election-assume-leader",
            "--seeds",
            "0..40",
            "--crashes-max",
            "3",
        ],
        "2/4",
    );
    let err = refused(&[a, b, &options, d]);
    assert!(
        err.contains("options.json: options.crashes_max 3, but "),
        "{err}"
    );
    let range = other(
        "range.json",
        &["--recipe", "election-assume-leader", "--seeds", "0..41"],
        "2/4",
    );
    let err = refused(&[a, b, &range, d]);
    assert!(err.contains("range.json: seeds 0..41, but "), "{err}");
    let swarm = other(
        "swarm.json",
        &[
            "--recipe",
            "election-assume-leader",
            "--seeds",
            "0..40",
            "--swarm",
        ],
        "2/4",
    );
    assert!(refused(&[a, b, &swarm, d]).contains("swarm.json: swarm true, but "));
    let covered = other(
        "covered.json",
        &[
            "--recipe",
            "election-assume-leader",
            "--seeds",
            "0..40",
            "--coverage",
        ],
        "2/4",
    );
    let err = refused(&[a, b, &covered, d]);
    assert!(
        err.contains("covered.json: a run with --coverage, but "),
        "{err}"
    );
    let cut = other("cut.json", &args, "2/5");
    let err = refused(&[a, b, &cut, d]);
    assert!(err.contains("cut.json: shard 2/5, but "), "{err}");

    // Counts a shard's slice cannot have: an edited or truncated file.
    let fewer = edited(&dir, c, "fewer.json", |v| v["runs"] = 9.into());
    let err = refused(&[a, b, &fewer, d]);
    assert!(
        err.contains("fewer.json: 9 runs, but shard 2/4 of seeds 0..40 holds 10 seeds"),
        "{err}"
    );
    let stray = edited(&dir, c, "stray.json", |v| v["failed"][0]["seed"] = 3.into());
    let err = refused(&[a, b, &stray, d]);
    assert!(
        err.contains("stray.json: failing seed 3 is not one of shard 2/4's seeds"),
        "{err}"
    );
    let lost = edited(&dir, c, "lost.json", |v| {
        v["failed"].as_array_mut().unwrap().pop();
    });
    assert!(refused(&[a, b, &lost, d]).contains("lost.json: "));
    let index = edited(&dir, c, "index.json", |v| v["shard"]["index"] = 4.into());
    let err = refused(&[a, b, &index, d]);
    assert!(
        err.contains("index.json: shard: the shard index 4 is not below the count 4"),
        "{err}"
    );
    let unknown = edited(&dir, c, "unknown.json", |v| v["colour"] = "red".into());
    let err = refused(&[a, b, &unknown, d]);
    assert!(
        err.contains("unknown.json:") && err.contains("unknown field `colour`"),
        "{err}"
    );

    // Not summaries at all.
    let broken = dir.join("broken.json");
    std::fs::write(&broken, "{\n  \"recipe\": \"fixed\",\n  \"runs\": \n").unwrap();
    let err = refused(&[a, &broken]);
    assert!(err.contains("broken.json:4: invalid JSON: "), "{err}");
    let list = dir.join("list.json");
    std::fs::write(&list, "[1, 2]\n").unwrap();
    assert!(refused(&[&list]).contains("list.json: not a summary of `zksim simulate --json`"));
    let trace = dir.join("t.jsonl");
    let o = zksim(&[
        "simulate",
        "--recipe",
        "election",
        "--seed",
        "1",
        "--trace",
        s(&trace),
    ]);
    assert_eq!(o.status.code(), Some(0));
    assert!(refused(&[&trace]).contains("t.jsonl: not a summary"));
    let latin1 = dir.join("latin1.json");
    std::fs::write(&latin1, b"{\"recipe\": \"caf\xe9\"}").unwrap();
    assert!(refused(&[&latin1]).contains("latin1.json:1: invalid UTF-8"));
    assert!(refused(&[&dir.join("absent.json")]).contains("absent.json"));
    let o = zksim(&["merge"]);
    assert_eq!(o.status.code(), Some(2), "merge needs a file");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The points of a summary's coverage, by `process write`.
fn points(v: &serde_json::Value) -> Vec<(String, u64, u64)> {
    v["coverage"]["points"]
        .as_array()
        .expect("coverage.points")
        .iter()
        .map(|p| {
            (
                format!(
                    "{} {}",
                    p["process"].as_str().unwrap(),
                    p["write"].as_str().unwrap()
                ),
                p["written"].as_u64().unwrap(),
                p["faulted"].as_u64().unwrap(),
            )
        })
        .collect()
}

/// The notification points of a summary's coverage, by `process event`, with the runs
/// that queued each and that faulted its process right after.
fn notices(v: &serde_json::Value) -> Vec<(String, u64, u64)> {
    v["coverage"]["notices"]
        .as_array()
        .expect("coverage.notices")
        .iter()
        .map(|p| {
            (
                format!(
                    "{} {}",
                    p["process"].as_str().unwrap(),
                    p["event"].as_str().unwrap()
                ),
                p["queued"].as_u64().unwrap(),
                p["faulted"].as_u64().unwrap(),
            )
        })
        .collect()
}

// Goal: notification points are counted: the watches the cluster sets show as the
// notifications queued (a worker hears of its assignments, the master of new tasks), and
// faults placed after notifications show as faults right after them.
#[test]
fn coverage_counts_notification_points_and_faults_after_them() {
    let args = ["--recipe", "fixed", "--seeds", "0..30", "--coverage"];
    let base = unaimed(["", ""]);
    let plain: serde_json::Value =
        serde_json::from_slice(&simulate(&args, &[&base[..], &["--json"]].concat()).stdout)
            .unwrap();
    let n = notices(&plain);
    let queued = |n: &[(String, u64, u64)], name: &str| -> (u64, u64) {
        let found = n.iter().find(|(x, _, _)| x == name);
        let (_, q, f) = found.unwrap_or_else(|| panic!("{name} in {n:?}"));
        (*q, *f)
    };
    assert!(n.iter().all(|(_, q, f)| *q <= 30 && f <= q), "{n:?}");
    assert!(
        queued(&n, "w1 NodeChildrenChanged /assign/*").0 >= 20,
        "{n:?}"
    );
    assert!(queued(&n, "c1 NodeCreated /status/*").0 >= 20, "{n:?}");
    assert!(
        n.iter().all(|(x, _, _)| !x.contains(" None ")),
        "session events are no notification points: {n:?}"
    );
    let faulted = |n: &[(String, u64, u64)]| n.iter().map(|(_, _, f)| f).sum::<u64>();
    let placed: serde_json::Value = serde_json::from_slice(
        &simulate(
            &args,
            &[
                &unaimed(["--notify-fault-per-mille", "1000"])[..],
                &["--json"],
            ]
            .concat(),
        )
        .stdout,
    )
    .unwrap();
    let m = notices(&placed);
    assert!(
        faulted(&m) > 3 * faulted(&n).max(1),
        "{} vs {}",
        faulted(&m),
        faulted(&n)
    );
    let text = stdout(&simulate(&args, &base));
    assert!(
        text.contains(&format!("; {} notification points queued, ", n.len())),
        "{text}"
    );
    assert!(
        text.contains("  notice w1 NodeChildrenChanged /assign/* "),
        "{text}"
    );
}

// Goal: the coverage of a small range is not trivial (the cluster's points written in most
// runs, some of them with a fault right after, none in more runs than were made), faults
// placed after writes show there, and it adds up across shards to the single run's.
#[test]
fn coverage_counts_points_and_faults_after_them_and_merges() {
    let args = ["--recipe", "fixed", "--seeds", "0..30", "--coverage"];
    let base = unaimed(["", ""]);
    let plain: serde_json::Value =
        serde_json::from_slice(&simulate(&args, &[&base[..], &["--json"]].concat()).stdout)
            .unwrap();
    let p = points(&plain);
    let named = |p: &[(String, u64, u64)], name: &str| -> (u64, u64) {
        let found = p.iter().find(|(n, _, _)| n == name);
        let (_, written, faulted) = found.unwrap_or_else(|| panic!("{name} in {p:?}"));
        (*written, *faulted)
    };
    assert!(p.len() >= 20, "the cluster's writes: {p:?}");
    assert!(p.iter().all(|(_, w, f)| *w <= 30 && f <= w), "{p:?}");
    assert!(
        named(&p, "m1 create /master").0 >= 25,
        "m1 runs for master: {p:?}"
    );
    assert!(named(&p, "w1 create /workers/*").0 >= 25);
    named(&p, "c1 multi [create /tasks/*, create /clients/*]");
    named(
        &p,
        "m1 multi [check /epoch, create /assign/*/*, delete /tasks/*]",
    );
    let faulted = |p: &[(String, u64, u64)]| p.iter().map(|(_, _, f)| f).sum::<u64>();
    assert!(faulted(&p) > 0, "a fault after some write: {p:?}");
    // Faults placed at protocol points show as many more faults right after writes.
    let placed: serde_json::Value = serde_json::from_slice(
        &simulate(
            &args,
            &[
                &unaimed(["--write-fault-per-mille", "500"])[..],
                &["--json"],
            ]
            .concat(),
        )
        .stdout,
    )
    .unwrap();
    let q = points(&placed);
    assert!(
        faulted(&q) > 3 * faulted(&p),
        "{} vs {}",
        faulted(&q),
        faulted(&p)
    );
    // The printed summary lists each point.
    let text = stdout(&simulate(&args, &base));
    assert!(text.contains(&format!(
        "  coverage: {} protocol points written, ",
        p.len()
    )));
    assert!(text.contains("  point  m1 create /master "), "{text}");
    assert!(
        text.contains(" written in 30/30 runs, "),
        "a point of every run: {text}"
    );
    // Shards add up to the same coverage.
    let dir = scratch("coverage-merge");
    let files = shards(&dir, &[&args[..], &base[..]].concat(), 3);
    let all: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    let merged: serde_json::Value =
        serde_json::from_slice(&merge(&all, &["--json"]).stdout).unwrap();
    assert_eq!(merged["coverage"], plain["coverage"]);
    let shard_points = |i: usize| -> Vec<(String, u64, u64)> {
        points(&serde_json::from_slice(&std::fs::read(&files[i]).unwrap()).unwrap())
    };
    assert_eq!(merged["coverage"]["notices"], plain["coverage"]["notices"]);
    let m1 = (0..3).map(|i| named(&shard_points(i), "m1 create /master").0);
    assert_eq!(m1.sum::<u64>(), named(&p, "m1 create /master").0);
    // A coverage point written in more runs than the shard made is refused.
    let inflated = edited(&dir, &files[1], "inflated.json", |v| {
        v["coverage"]["points"][0]["written"] = 11.into();
        v["coverage"]["points"][0]["faulted"] = 0.into();
        v["coverage"]["points"][0]["disconnected"] = 0.into();
        v["coverage"]["points"][0]["crashed"] = 0.into();
        v["coverage"]["points"][0]["killed"] = 0.into();
    });
    let err = refused(&[&files[0], &inflated, &files[2]]);
    assert!(
        err.contains("inflated.json: coverage point ") && err.contains("written in 11 runs of 10"),
        "{err}"
    );
    let inflated = edited(&dir, &files[1], "inflated-notice.json", |v| {
        v["coverage"]["notices"][0]["queued"] = 11.into();
        v["coverage"]["notices"][0]["faulted"] = 0.into();
        v["coverage"]["notices"][0]["disconnected"] = 0.into();
        v["coverage"]["notices"][0]["crashed"] = 0.into();
        v["coverage"]["notices"][0]["killed"] = 0.into();
    });
    let err = refused(&[&files[0], &inflated, &files[2]]);
    assert!(
        err.contains("inflated-notice.json: coverage notice ")
            && err.contains("queued in 11 runs of 10"),
        "{err}"
    );
    let impossible = edited(&dir, &files[1], "impossible.json", |v| {
        v["coverage"]["points"][0]["faulted"] = 0.into();
        v["coverage"]["points"][0]["killed"] = 1.into();
    });
    let err = refused(&[&files[0], &impossible, &files[2]]);
    assert!(
        err.contains("impossible.json:") && err.contains("cannot be one range's"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// Goal: a summary whose range `--seeds` could not have run (edited: B not above A) is refused
// naming the file, not a panic (the summary fuzz target found it subtracting with overflow).
#[test]
fn merge_refuses_a_summary_with_a_range_no_run_has() {
    let dir = scratch("merge-bad-range");
    let f = shards(&dir, &["--recipe", "election", "--seeds", "0..8"], 1);
    for (name, start, end) in [("backwards.json", 8, 0), ("empty.json", 5, 5)] {
        let bad = edited(&dir, &f[0], name, |v| {
            v["seed_start"] = start.into();
            v["seed_end"] = end.into();
        });
        let err = refused(&[&bad]);
        assert!(
            err.contains(&format!("{name}: seeds {start}..{end}: not a range")),
            "{err}"
        );
    }
}
