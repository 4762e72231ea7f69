//! `zksim confirm` against a real ZooKeeper 3.8 server (Debian's `zookeeper` package): every
//! recorded counterexample is confirmed, swarm seeds are, and a planted wrong answer is not.
//! Skipped (with a message) where ZooKeeper cannot run, unless `ZKSIM_REQUIRE_ZOOKEEPER=1`.

mod common;

use std::path::{Path, PathBuf};

use common::{s, scratch, stderr, stdout, zksim, zookeeper_available};

fn regressions() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/regressions");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    files
}

fn confirm_json(args: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = zksim(&[&["confirm", "--json"], args].concat());
    let json = serde_json::from_str(&stdout(&out)).unwrap_or(serde_json::Value::Null);
    (out.status.code(), json, stderr(&out))
}

// Goal: every counterexample the project keeps runs on a real server exactly as the model
// said, so each violation is one a real ZooKeeper shows too.
#[test]
fn every_recorded_counterexample_is_confirmed_on_a_real_server() {
    if !zookeeper_available("every_recorded_counterexample_is_confirmed_on_a_real_server") {
        return;
    }
    let files = regressions();
    assert!(files.len() >= 10, "{files:?}");
    let args: Vec<&str> = files.iter().map(|p| s(p)).collect();
    let (code, json, err) = confirm_json(&args);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    let results = json.as_array().unwrap();
    assert_eq!(results.len(), files.len());
    for r in results {
        assert_eq!(r["verdict"], "confirmed", "{r:#}");
        assert!(r["replies"].as_u64().unwrap() > 0, "{r:#}");
        assert!(
            !r["violations"].as_array().unwrap().is_empty(),
            "a counterexample: {r:#}"
        );
    }
}

// Goal: the simulator is a generator of conformance tests: swarm seeds of the correct
// recipe (crashes, disconnects, expiries drawn from each seed) are all confirmed.
#[test]
fn swarm_seeds_of_the_cluster_are_confirmed() {
    if !zookeeper_available("swarm_seeds_of_the_cluster_are_confirmed") {
        return;
    }
    let (code, json, err) = confirm_json(&["--recipe", "fixed", "--seeds", "0..8", "--swarm"]);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    let results = json.as_array().unwrap();
    assert_eq!(results.len(), 8);
    assert!(
        results.iter().all(|r| r["verdict"] == "confirmed"),
        "{json:#}"
    );
    let frames: u64 = results.iter().map(|r| r["frames"].as_u64().unwrap()).sum();
    assert!(
        frames > 100,
        "watch events and replies were compared: {frames}"
    );
}

/// A copy of `trace` with the first line that `plant` changes changed (it returns the new
/// line, or `None` to leave a line alone).
fn planted(trace: &Path, name: &str, mut plant: impl FnMut(&str) -> Option<String>) -> PathBuf {
    let text = std::fs::read_to_string(trace).unwrap();
    let mut done = false;
    let lines: Vec<String> = text
        .lines()
        .map(|l| match (done, plant(l)) {
            (false, Some(new)) => {
                done = true;
                new
            }
            _ => l.to_string(),
        })
        .collect();
    assert!(done, "{name}: nothing to plant in {}", trace.display());
    let out = scratch(&format!("confirm-{name}")).join(format!("{name}.jsonl"));
    std::fs::write(&out, lines.join("\n") + "\n").unwrap();
    out
}

/// The line with its events' first match of `pick` replaced by `edit`'s result.
fn edit_event(
    line: &str,
    pick: impl Fn(&serde_json::Value) -> bool,
    edit: impl Fn(&mut Vec<serde_json::Value>, usize),
) -> Option<String> {
    let mut v: serde_json::Value = serde_json::from_str(line).ok()?;
    let events = v.get_mut("events")?.as_array_mut()?;
    let i = events.iter().position(pick)?;
    edit(events, i);
    Some(serde_json::to_string(&v).unwrap())
}

// Goal: confirm is a test that can fail: a model that answered with a wrong cversion, a wrong
// error code, or without a watch event it owed is caught, with the step and the field.
#[test]
fn a_planted_wrong_answer_is_caught() {
    if !zookeeper_available("a_planted_wrong_answer_is_caught") {
        return;
    }
    let base = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scenarios/regressions/status-then-delete.seed-257.jsonl");
    let handled_with = |what: &'static str| {
        move |e: &serde_json::Value| e["what"] == "handled" && e["reply"].to_string().contains(what)
    };
    let cversion = planted(&base, "cversion", |l| {
        edit_event(l, handled_with("\"cversion\""), |ev, i| {
            let text = ev[i].to_string();
            let at = text.find("\"cversion\":").unwrap() + "\"cversion\":".len();
            let end = at + text[at..].find(|c: char| !c.is_ascii_digit()).unwrap();
            let bumped = text[at..end].parse::<u64>().unwrap() + 1;
            ev[i] =
                serde_json::from_str(&format!("{}{bumped}{}", &text[..at], &text[end..])).unwrap();
        })
    });
    let code = planted(&base, "code", |l| {
        edit_event(l, handled_with("NodeExists"), |ev, i| {
            let text = ev[i].to_string().replace("NodeExists", "NoNode");
            ev[i] = serde_json::from_str(&text).unwrap();
        })
    });
    let event = planted(&base, "event", |l| {
        edit_event(
            l,
            |e| e["what"] == "notified" && e["event"]["type"] != "None",
            |ev, i| {
                ev.remove(i);
            },
        )
    });
    for (file, field) in [(&cversion, "reply"), (&code, "reply"), (&event, "frame")] {
        let (code, json, err) = confirm_json(&[s(file)]);
        assert_eq!(code, Some(1), "{}: {err}\n{json:#}", file.display());
        let d = &json[0]["divergence"];
        assert_eq!(json[0]["verdict"], "diverged", "{json:#}");
        assert!(d["field"].as_str().unwrap().starts_with(field), "{d:#}");
        assert!(
            d["at"]["step"].as_u64().is_some() && d["real"] != d["model"],
            "{d:#}"
        );
    }
}

// Goal: a server restart in a trace is realized on the real server (stopped and started on
// its data directory): every connection drops, each session comes back with its watches, and
// the model's account of it (the zxid it kept, the sessions that survived) is confirmed; a
// model that lost a session or moved the zxid at the restart is caught.
#[test]
fn server_restarts_are_confirmed_and_a_wrong_one_is_caught() {
    if !zookeeper_available("server_restarts_are_confirmed_and_a_wrong_one_is_caught") {
        return;
    }
    let dir = scratch("confirm-restart");
    let scenario = Path::new(env!("CARGO_MANIFEST_DIR")).join("scenarios/server-restart.toml");
    let base = dir.join("scenario.jsonl");
    let out = zksim(&["run", s(&scenario), "--trace", s(&base)]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut traces = vec![base.clone()];
    for seed in ["0", "1"] {
        let trace = dir.join(format!("seed-{seed}.jsonl"));
        let out = zksim(&[
            "simulate",
            "--recipe",
            "fixed",
            "--seed",
            seed,
            "--server-restarts-max",
            "1",
            "--fault-per-mille",
            "150",
            "--trace",
            s(&trace),
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        traces.push(trace);
    }
    for t in &traces {
        let text = std::fs::read_to_string(t).unwrap();
        assert!(text.contains("\"server_restarted\""), "{}", t.display());
    }
    let args: Vec<&str> = traces.iter().map(|p| s(p)).collect();
    let (code, json, err) = confirm_json(&args);
    assert_eq!(code, Some(0), "{err}\n{json:#}");
    for r in json.as_array().unwrap() {
        assert_eq!(r["verdict"], "confirmed", "{r:#}");
    }
    let zxid = planted(&base, "restart-zxid", |l| {
        edit_event(
            l,
            |e| e["what"] == "server_restarted",
            |ev, i| {
                let z = ev[i]["zxid"].as_i64().unwrap();
                ev[i]["zxid"] = (z + 1).into();
            },
        )
    });
    let mut restarted = false;
    let session = planted(&base, "restart-session", |l| {
        restarted |= l.contains("\"server_restarted\"");
        if !restarted {
            return None;
        }
        edit_event(
            l,
            |e| e["what"] == "reconnected" && e["expired"] == false,
            |ev, i| ev[i]["expired"] = true.into(),
        )
    });
    for (file, field) in [(&zxid, "zxid"), (&session, "reconnect")] {
        let (code, json, err) = confirm_json(&[s(file)]);
        assert_eq!(code, Some(1), "{}: {err}\n{json:#}", file.display());
        assert_eq!(json[0]["verdict"], "diverged", "{json:#}");
        let d = &json[0]["divergence"];
        assert_eq!(d["field"], field, "{d:#}");
    }
}

// Goal: bad input to confirm is exit 2 with the file named, never a panic, and never needs a
// server to say so.
#[test]
fn confirm_refuses_bad_input_with_exit_2() {
    let dir = scratch("confirm-bad");
    let not_a_trace = dir.join("x.jsonl");
    std::fs::write(&not_a_trace, "{\"hello\": 1}\n").unwrap();
    for (args, says) in [
        (vec!["confirm"], "give traces".to_string()),
        (
            vec!["confirm", s(&not_a_trace)],
            not_a_trace.display().to_string(),
        ),
        (
            vec!["confirm", "/nonexistent/t.jsonl"],
            "/nonexistent/t.jsonl".to_string(),
        ),
        (
            vec!["confirm", "--recipe", "nope", "--seeds", "0..1"],
            "nope".to_string(),
        ),
        (vec!["confirm", "--seeds", "0..1"], "--recipe".to_string()),
    ] {
        let out = zksim(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(stderr(&out).contains(&says), "{args:?}: {}", stderr(&out));
    }
}
