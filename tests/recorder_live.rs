//! Records small scripts against a real ZooKeeper 3.8 server (Debian's `zookeeper` package).
//!
//! When `/usr/share/java/zookeeper.jar` is missing the test runs `.ci/install-zookeeper`. If
//! ZooKeeper still cannot run (no `java`, no root, no registry) the test is skipped with a
//! message, unless `ZKSIM_REQUIRE_ZOOKEEPER=1` is set: then it fails.

mod common;

use std::io::Read as _;
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{s, scratch, zookeeper_available};

use zksim::conformance::check::check;
use zksim::conformance::transcript::{Expect, Transcript};
use zksim::recorder::{parse_script, record_transcript, RecordOptions};
use zksim_model::op::{EventType, KeeperState, OpResult, Response, WatchedEvent};
use zksim_model::ErrorCode;

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

/// A recording that keeps its server up for a minute: long enough to be interrupted.
const LONG_SCRIPT: &str = r#"{
  "schema": 1,
  "name": "long_wait",
  "about": "A session, then a long wait.",
  "tick_ms": 200,
  "steps": [
    {"do": "connect", "session": "a", "timeout_ms": 4000},
    {"do": "wait", "ms": 60000}
  ]
}"#;

/// The directory and port of the server a `zksim` with this PID started: the recorder names
/// its directory `zksim-record-PID-N-PORT`.
fn server_of(pid: u32) -> Option<(PathBuf, u16)> {
    let prefix = format!("zksim-record-{pid}-");
    std::fs::read_dir(std::env::temp_dir())
        .ok()?
        .filter_map(Result::ok)
        .find_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let port = name
                .strip_prefix(&prefix)?
                .rsplit('-')
                .next()?
                .parse()
                .ok()?;
            Some((e.path(), port))
        })
}

// the test waits on real processes in real time
#[allow(clippy::disallowed_methods)]
fn sleep(d: Duration) {
    std::thread::sleep(d);
}

/// The processes that run ZooKeeper with the config in `dir` (read from `/proc`).
fn jvms(dir: &std::path::Path) -> Vec<u32> {
    let cfg = dir.join("zoo.cfg");
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    procs
        .filter_map(Result::ok)
        .filter(|p| {
            std::fs::read(p.path().join("cmdline")).is_ok_and(|line| {
                let line = String::from_utf8_lossy(&line);
                line.contains("QuorumPeerMain") && line.contains(&*cfg.to_string_lossy())
            })
        })
        .filter_map(|p| p.file_name().to_str()?.parse().ok())
        .collect()
}

/// Whether a process runs ZooKeeper with the config in `dir`.
fn jvm_running(dir: &std::path::Path) -> bool {
    !jvms(dir).is_empty()
}

fn listening(port: u16) -> bool {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// Polls `done` every 50 ms for at most `within`; whether it came true. (A bound on waiting for
/// another process, not a measure of speed.)
// the test waits on real processes in real time
#[allow(clippy::disallowed_methods)]
fn eventually(within: Duration, mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + within;
    loop {
        if done() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A recording that restarts its server after half a second and then keeps it up for a
/// minute.
const RESTART_SCRIPT: &str = r#"{
  "schema": 1,
  "name": "long_wait_after_restart",
  "about": "A session, a restart, then a long wait.",
  "tick_ms": 200,
  "steps": [
    {"do": "connect", "session": "a", "timeout_ms": 4000},
    {"do": "wait", "ms": 500},
    {"do": "restart_server"},
    {"do": "wait", "ms": 60000}
  ]
}"#;

/// When a test signals the recorder.
#[derive(Clone, Copy)]
enum When {
    /// Once its server listens (the recording under way).
    Listening,
    /// This long after its server's JVM runs (the server still starting, the recorder
    /// waiting for it to serve).
    Starting(Duration),
    /// Once a second JVM serves on the same directory and port (the script restarted it).
    Restarted,
}

/// Starts `zksim record` on the long script (the restarting one for [`When::Restarted`]),
/// waits until `when`, ends it with `signal` (`kill -SIGNAL`), and returns its exit status and
/// stderr, and where its server was.
fn record_then_signal(
    name: &str,
    signal: &str,
    when: When,
) -> (std::process::ExitStatus, String, PathBuf, u16) {
    let dir = scratch(name);
    let script = dir.join("long.json");
    let text = match when {
        When::Restarted => RESTART_SCRIPT,
        _ => LONG_SCRIPT,
    };
    std::fs::write(&script, text).unwrap();
    let out = dir.join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_zksim"))
        .args(["record", s(&script), "-o", s(&out)])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut server = None;
    let mut first_jvm = None;
    let up = eventually(Duration::from_secs(90), || {
        server = server_of(pid);
        server.as_ref().is_some_and(|(dir, port)| match when {
            When::Listening => listening(*port),
            When::Starting(_) => jvm_running(dir),
            When::Restarted => {
                let running = jvms(dir);
                if first_jvm.is_none() {
                    first_jvm = running.first().copied();
                }
                first_jvm.is_some_and(|first| running.iter().any(|p| *p != first))
                    && listening(*port)
            }
        })
    });
    if let When::Starting(after) = when {
        sleep(after);
    }
    if !up {
        let _ = child.kill();
        panic!("{name}: the recorder's server never listened");
    }
    let (server_dir, port) = server.unwrap();
    let sent = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(sent.success());
    let status = child.wait().unwrap();
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    (status, err, server_dir, port)
}

// Goal: Ctrl-C (SIGINT) or SIGTERM to `zksim record` stops its ZooKeeper and removes the
// server's directory before it exits 130, saying it was interrupted.
#[test]
fn an_interrupted_recording_leaves_no_server_and_no_directory() {
    if !zookeeper_available("an_interrupted_recording_leaves_no_server_and_no_directory") {
        return;
    }
    for signal in ["INT", "TERM"] {
        let (status, err, dir, port) =
            record_then_signal(&format!("interrupt-{signal}"), signal, When::Listening);
        assert_eq!(status.code(), Some(130), "SIG{signal}: {err}");
        assert!(err.contains("interrupted"), "SIG{signal}: {err}");
        assert!(
            !listening(port),
            "SIG{signal}: the server still listens on {port}"
        );
        assert!(!dir.exists(), "SIG{signal}: {} is left", dir.display());
    }
}

// Goal: an interruption while the server is still starting is an interruption too (exit 130,
// no FAILED line), not a server that "exited during startup": the cleanup killed it. (CI saw
// exit 2 when SIGINT landed in the start, as the main thread saw the killed server first.)
#[test]
fn an_interruption_during_the_servers_start_is_reported_as_one() {
    if !zookeeper_available("an_interruption_during_the_servers_start_is_reported_as_one") {
        return;
    }
    // The start takes about a second here: signals 0 to 1.5 s into it land before the port
    // opens, while it opens and while the recorder waits for `Mode: standalone`.
    for round in 0..16 {
        let after = Duration::from_millis(100 * round);
        let (status, err, dir, port) = record_then_signal(
            &format!("interrupt-start-{round}"),
            "INT",
            When::Starting(after),
        );
        assert_eq!(status.code(), Some(130), "round {round}: {err}");
        assert!(err.contains("interrupted"), "round {round}: {err}");
        assert!(!err.contains("FAILED"), "round {round}: {err}");
        assert!(
            eventually(Duration::from_secs(20), || !listening(port)
                && !dir.exists()),
            "round {round}: server on {port} listening {}, {} exists {}",
            listening(port),
            dir.display(),
            dir.exists()
        );
    }
}

// Goal: even SIGKILL, which no handler sees, leaves no server running and no directory: the
// watchdog sees its pipe close and stops the server.
#[test]
fn a_killed_recorder_leaves_no_server_and_no_directory() {
    if !zookeeper_available("a_killed_recorder_leaves_no_server_and_no_directory") {
        return;
    }
    let (status, _, dir, port) = record_then_signal("interrupt-KILL", "KILL", When::Listening);
    assert_eq!(status.code(), None, "killed by a signal");
    assert!(
        eventually(Duration::from_secs(20), || !listening(port)
            && !dir.exists()),
        "after SIGKILL: server on {port} listening {}, {} exists {}",
        listening(port),
        dir.display(),
        dir.exists()
    );
}

// Goal: the watchdog's guarantees hold across a restart: SIGKILL or SIGINT to `zksim record`
// once its server was restarted leaves no JVM, nothing listening on the port and no
// directory (the new JVM is the watchdog's as the first one was).
#[test]
fn a_recorder_ended_after_a_restart_leaves_no_server_and_no_directory() {
    if !zookeeper_available("a_recorder_ended_after_a_restart_leaves_no_server_and_no_directory") {
        return;
    }
    for signal in ["KILL", "INT"] {
        let (status, err, dir, port) =
            record_then_signal(&format!("restart-{signal}"), signal, When::Restarted);
        match signal {
            "KILL" => assert_eq!(status.code(), None, "killed by a signal"),
            _ => assert_eq!(status.code(), Some(130), "SIG{signal}: {err}"),
        }
        assert!(
            eventually(Duration::from_secs(20), || !listening(port)
                && !dir.exists()
                && jvms(&dir).is_empty()),
            "after SIG{signal}: server on {port} listening {}, {} exists {}, JVMs {:?}",
            listening(port),
            dir.display(),
            dir.exists(),
            jvms(&dir)
        );
    }
}

const RESTART_AND_EXPIRY_SCRIPT: &str = r#"{
  "schema": 1,
  "name": "restart_and_expiry",
  "about": "An ephemeral, a sequential node and a watch across a restart; then a new session's expiry, probed before its timeout and after the tick that follows it.",
  "tick_ms": 200,
  "steps": [
    {"do": "connect", "session": "a", "timeout_ms": 4000},
    {"do": "connect", "session": "b", "timeout_ms": 4000},
    {"do": "request", "session": "a", "request": {"op": "create", "path": "/e", "data": "a", "mode": "ephemeral"}},
    {"do": "request", "session": "a", "request": {"op": "create", "path": "/s-", "data": "", "mode": "persistent_sequential"}},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/e", "watch": true}},
    {"do": "restart_server"},
    {"do": "reconnect", "session": "a"},
    {"do": "request", "session": "a", "request": {"op": "create", "path": "/s-", "data": "", "mode": "persistent_sequential"}},
    {"do": "reconnect", "session": "b"},
    {"do": "connect", "session": "c", "timeout_ms": 400},
    {"do": "request", "session": "c", "request": {"op": "create", "path": "/c", "data": "", "mode": "ephemeral"}},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/c", "watch": true}},
    {"do": "disconnect", "session": "c"},
    {"do": "wait", "ms": 200},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/c"}},
    {"do": "wait", "ms": 300},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/c"}},
    {"do": "wait", "ms": 500},
    {"do": "request", "session": "b", "request": {"op": "exists", "path": "/c"}},
    {"do": "request", "session": "a", "request": {"op": "delete", "path": "/e"}}
  ]
}"#;

// Goal: a restart recorded from a real server matches the model: the ephemeral, the counter,
// the zxid and the sessions survive, every connection is lost and its client reconnects to
// its session; and a silent session is there before its timeout and gone a tick after it,
// the moment in between left to the server.
#[test]
fn a_recorded_restart_and_expiry_match_the_model() {
    if !zookeeper_available("a_recorded_restart_and_expiry_match_the_model") {
        return;
    }
    let script = parse_script(RESTART_AND_EXPIRY_SCRIPT).unwrap();
    let t = record_transcript(&script, &RecordOptions::default()).unwrap();

    // The restart: the connected sessions are disconnected, the zxid is the last one before
    // (2 createSessions, 2 creates), and both servers' times are recorded.
    let e = expect(&t, 5);
    assert_eq!(e.zxid, Some(4));
    for s in ["a", "b"] {
        assert_eq!(e.events[s], vec![session(KeeperState::Disconnected)], "{s}");
    }
    assert!(
        e.server_stop_ms.is_some() && e.server_up_ms.is_some(),
        "{e:?}"
    );
    // The same session comes back, with its timeout; the counter and the zxids go on.
    assert_eq!(expect(&t, 6).negotiated_timeout_ms, Some(4000));
    let e = expect(&t, 7);
    assert_eq!(e.zxid, Some(5));
    assert!(
        matches!(&e.reply, Some(Ok(Response::Create { path, .. })) if path == "/s-0000000002"),
        "{:?}",
        e.reply
    );
    // b's watch on /e was lost with the server and re-registered: it fires on the delete.
    assert_eq!(
        expect(&t, 19).events["b"],
        vec![node(EventType::NodeDeleted, "/e")]
    );
    // c, a session made after the restart, is there 200 ms into its silence and gone 1 s in
    // (wide of its window, 400 to 600 ms: the other live tests load the machine); at 500 ms
    // it may be either.
    assert!(matches!(expect(&t, 14).reply, Some(Ok(_))));
    assert_eq!(expect(&t, 18).reply, Some(Err(ErrorCode::NoNode)));

    let report = check(&t, std::path::Path::new("restart_and_expiry.json")).unwrap();
    assert_eq!(report.mismatched, 0, "{:?}", report.mismatches);
    assert!(
        report.expiries.iter().any(|x| x.session == "c"),
        "{report:?}"
    );
}
