//! Records small scripts against a real ZooKeeper 3.8 server (Debian's `zookeeper` package).
//!
//! When `/usr/share/java/zookeeper.jar` is missing the test runs `.ci/install-zookeeper`. If
//! ZooKeeper still cannot run (no `java`, no root, no registry) the test is skipped with a
//! message, unless `ZKSIM_REQUIRE_ZOOKEEPER=1` is set: then it fails.

use std::path::Path;
use std::process::{Command, Stdio};

use zksim::conformance::transcript::{Expect, Transcript};
use zksim::recorder::{parse_script, record_transcript, RecordOptions};
use zksim_model::op::{EventType, KeeperState, OpResult, Response, WatchedEvent};
use zksim_model::ErrorCode;

const JAR: &str = "/usr/share/java/zookeeper.jar";

/// Whether a real server can be started here; panics if it cannot but must.
fn zookeeper_available(test: &str) -> bool {
    let java_ok = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let jar_ok = Path::new(JAR).exists() || install_zookeeper(test);
    if java_ok && jar_ok {
        return true;
    }
    let why = format!(
        "{test}: ZooKeeper is not available (java on PATH: {java_ok}, {JAR}: {jar_ok}); \
         install it with `apt-get install -y zookeeper`"
    );
    if std::env::var("ZKSIM_REQUIRE_ZOOKEEPER").as_deref() == Ok("1") {
        panic!("{why} (ZKSIM_REQUIRE_ZOOKEEPER=1)");
    }
    eprintln!("SKIPPED {why}");
    false
}

/// Runs the project's installer for Debian's `zookeeper` package; whether the jar is there
/// afterwards. (It needs root or passwordless sudo and the package registry.)
/// Runs once per test binary, as the tests run in parallel.
fn install_zookeeper(test: &str) -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-zookeeper");
        eprintln!("{test}: {JAR} is missing; running {}", script.display());
        let ran = Command::new(&script).stdout(Stdio::null()).status();
        ran.is_ok_and(|s| s.success()) && Path::new(JAR).exists()
    })
}

fn expect(t: &Transcript, i: usize) -> &Expect {
    t.steps[i]
        .expect
        .as_ref()
        .unwrap_or_else(|| panic!("step {i} has no expect"))
}

fn node(kind: EventType, path: &str) -> WatchedEvent {
    WatchedEvent::node(kind, path)
}

fn session(state: KeeperState) -> WatchedEvent {
    WatchedEvent::session(state)
}

const SCRIPT: &str = r#"{
  "schema": 1,
  "name": "recorder_live",
  "about": "Two sessions, an ephemeral, a watch firing on the other session, a failed multi, a disconnect and a reconnect that replays a watch, a close.",
  "tick_ms": 200,
  "steps": [
    {"do": "connect", "session": "a", "timeout_ms": 4000},
    {"do": "connect", "session": "b", "timeout_ms": 100000},
    {"do": "request", "session": "a", "request": {"op": "create", "path": "/e", "data": "0", "mode": "ephemeral", "stat": true}},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/e", "watch": true}},
    {"do": "request", "session": "a", "request": {"op": "set_data", "path": "/e", "data": "1"}},
    {"do": "request", "session": "a", "request": {"op": "multi", "ops": [
      {"op": "create", "path": "/m", "data": ""},
      {"op": "check", "path": "/e", "version": 99},
      {"op": "create", "path": "/n", "data": ""}
    ]}},
    {"do": "request", "session": "b", "request": {"op": "get_data", "path": "/e", "watch": true}},
    {"do": "disconnect", "session": "b"},
    {"do": "request", "session": "a", "request": {"op": "set_data", "path": "/e", "data": "2"}},
    {"do": "reconnect", "session": "b"},
    {"do": "request", "session": "a", "request": {"op": "exists", "path": "/missing"}},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/e", "watch": true}},
    {"do": "request", "session": "a", "request": {"op": "get_data", "path": "/e", "watch": true}},
    {"do": "request", "session": "a", "request": {"op": "delete", "path": "/e"}},
    {"do": "request", "session": "b", "request": {"op": "create", "path": "/e2", "mode": "ephemeral"}},
    {"do": "request", "session": "a", "request": {"op": "exists", "path": "/e2", "watch": true}},
    {"do": "close", "session": "b"},
    {"do": "request", "session": "b", "request": {"op": "sync", "path": "/"}},
    {"do": "wait", "ms": 300}
  ]
}"#;

#[test]
fn records_a_small_script_against_a_real_server() {
    if !zookeeper_available("records_a_small_script_against_a_real_server") {
        return;
    }
    let script = parse_script(SCRIPT).unwrap();
    let t = record_transcript(&script, &RecordOptions::default()).unwrap();
    assert!(t.recorded.as_ref().unwrap().server.contains("3.8.0"));
    assert!(t.recorded.as_ref().unwrap().server.contains("tickTime=200"));

    // connect: negotiated timeouts (clamped to 20 ticks) and the client's SyncConnected.
    let e = expect(&t, 0);
    assert_eq!(e.negotiated_timeout_ms, Some(4000));
    assert_eq!(e.events["a"], vec![session(KeeperState::SyncConnected)]);
    assert_eq!(expect(&t, 1).negotiated_timeout_ms, Some(4000));

    // create2 of an ephemeral: the owner is session ordinal 1; times are normalized zxids.
    // zxid 1 and 2 are the two createSession txns of a fresh server.
    let e = expect(&t, 2);
    assert_eq!(e.zxid, Some(3));
    let Some(Ok(Response::Create {
        path,
        stat: Some(st),
    })) = &e.reply
    else {
        panic!("{:?}", e.reply)
    };
    assert_eq!(path, "/e");
    assert_eq!(st.ephemeral_owner, 1);
    assert_eq!((st.czxid, st.mzxid, st.pzxid), (3, 3, 3));
    assert_eq!((st.ctime, st.mtime), (3, 3));
    assert!(e.events.is_empty());

    // setData by a fires b's exists watch; a sees nothing, so no before_reply.
    let e = expect(&t, 4);
    assert_eq!(e.zxid, Some(4));
    assert_eq!(e.events["b"], vec![node(EventType::NodeDataChanged, "/e")]);
    assert!(!e.events.contains_key("a"));
    assert_eq!(e.before_reply, None);

    // A failed multi: header OK, per-op results, a zxid used.
    let e = expect(&t, 5);
    assert_eq!(e.zxid, Some(5));
    assert_eq!(
        e.reply,
        Some(Ok(Response::Multi {
            results: vec![
                OpResult::Error {
                    code: ErrorCode::Ok
                },
                OpResult::Error {
                    code: ErrorCode::BadVersion
                },
                OpResult::Error {
                    code: ErrorCode::RuntimeInconsistency
                },
            ]
        }))
    );

    // disconnect: the client's Disconnected; the session lives on.
    assert_eq!(
        expect(&t, 7).events["b"],
        vec![session(KeeperState::Disconnected)]
    );
    assert!(expect(&t, 8).events.is_empty());
    // reconnect: SyncConnected, then the data watch re-registered with lastZxid fires at once.
    let e = expect(&t, 9);
    assert_eq!(e.negotiated_timeout_ms, Some(4000));
    assert_eq!(
        e.events["b"],
        vec![
            session(KeeperState::SyncConnected),
            node(EventType::NodeDataChanged, "/e")
        ]
    );

    // exists on a missing node is NoNode on the wire.
    assert_eq!(expect(&t, 10).reply, Some(Err(ErrorCode::NoNode)));

    // a deletes /e watched by both: a's own event arrives before its reply.
    let e = expect(&t, 13);
    assert_eq!(e.reply, Some(Ok(Response::Empty)));
    assert_eq!(e.events["a"], vec![node(EventType::NodeDeleted, "/e")]);
    assert_eq!(e.events["b"], vec![node(EventType::NodeDeleted, "/e")]);
    assert_eq!(e.before_reply, Some(1));

    // close of b removes its ephemeral; a's exists watch fires.
    let e = expect(&t, 16);
    assert_eq!(e.reply, Some(Ok(Response::Empty)));
    assert_eq!(e.events["a"], vec![node(EventType::NodeDeleted, "/e2")]);
    // After close, requests fail locally.
    let e = expect(&t, 17);
    assert_eq!(e.reply, Some(Err(ErrorCode::SessionExpired)));
    assert_eq!(e.zxid, None);
    assert!(expect(&t, 18).events.is_empty());
}

#[test]
fn an_impossible_script_names_the_step() {
    if !zookeeper_available("an_impossible_script_names_the_step") {
        return;
    }
    let script = parse_script(
        r#"{"schema": 1, "name": "bad", "about": "", "steps": [
            {"do": "connect", "session": "a", "timeout_ms": 4000},
            {"do": "disconnect", "session": "a"},
            {"do": "request", "session": "a", "request": {"op": "sync", "path": "/"}}
        ]}"#,
    )
    .unwrap();
    let err = record_transcript(&script, &RecordOptions::default()).unwrap_err();
    assert!(err.starts_with("step 2 "), "{err}");
    assert!(err.contains("disconnected"), "{err}");

    let script = parse_script(
        r#"{"schema": 1, "name": "bad", "about": "", "steps": [
            {"do": "connect", "session": "a", "timeout_ms": 4000},
            {"do": "connect", "session": "a", "timeout_ms": 4000}
        ]}"#,
    )
    .unwrap();
    let err = record_transcript(&script, &RecordOptions::default()).unwrap_err();
    assert!(err.starts_with("step 1 "), "{err}");
}
