//! A trace as text that reads like a `zkCli` session: one line per event, with the virtual
//! time, the process, the operation and its result.
//!
//! ```text
//! [     0ms] c1       create -e /master "c1" -> /master
//! [     3ms] c2       create -e /master "c2" -> NodeExists
//! [     3ms] c2       stat -w /master -> ok
//! [   410ms] c1       CRASH
//! [  6400ms] zk       zxid 0x9: session 0x100000000000001 expired
//! [  6400ms] zk       zxid 0x9: deleted /master
//! [  6401ms] c2       WATCHER:: NodeDeleted /master
//! ```

use std::collections::BTreeMap;
use std::fmt::Write;

use zksim_model::op::{CreateMode, EventType, OpResult, Reply, Request, Response};
use zksim_model::server::Change;

use crate::action::Action;
use crate::event::Event;
use crate::plural::count;
use crate::trace::Trace;

/// The request as a zkCli command line.
pub fn request(r: &Request) -> String {
    let version = |v: i32| {
        if v == -1 {
            String::new()
        } else {
            format!("-v {v} ")
        }
    };
    match r {
        Request::Create {
            path,
            data,
            mode,
            ttl_ms,
            ..
        } => {
            let flags = match mode {
                CreateMode::Persistent => "",
                CreateMode::Ephemeral => "-e ",
                CreateMode::PersistentSequential => "-s ",
                CreateMode::EphemeralSequential => "-e -s ",
                CreateMode::Container => "-c ",
                CreateMode::PersistentWithTtl => "-t ",
                CreateMode::PersistentSequentialWithTtl => "-s -t ",
            };
            let ttl = ttl_ms.map_or(String::new(), |t| format!("{t} "));
            format!("create {flags}{ttl}{path} {}", data.display())
        }
        Request::Delete { path, version: v } => format!("delete {}{path}", version(*v)),
        Request::Exists { path, watch } => {
            format!("stat {}{path}", if *watch { "-w " } else { "" })
        }
        Request::GetData { path, watch } => {
            format!("get {}{path}", if *watch { "-w " } else { "" })
        }
        Request::SetData {
            path,
            data,
            version: v,
        } => {
            format!("set {}{path} {}", version(*v), data.display())
        }
        Request::GetAcl { path } => format!("getAcl {path}"),
        Request::SetAcl {
            path, version: v, ..
        } => format!("setAcl {}{path}", version(*v)),
        Request::GetChildren { path, watch, stat } => format!(
            "ls {}{}{path}",
            if *watch { "-w " } else { "" },
            if *stat { "-s " } else { "" }
        ),
        Request::Sync { path } => format!("sync {path}"),
        Request::Check { path, version: v } => format!("check {}{path}", version(*v)),
        Request::Multi { ops } => {
            format!(
                "multi [{}]",
                ops.iter().map(request).collect::<Vec<_>>().join("; ")
            )
        }
        Request::RemoveWatches { path, watcher_type } => {
            format!("removewatches {path} {watcher_type:?}")
        }
        Request::AddWatch { path, mode } => format!("addWatch {mode:?} {path}"),
    }
}

/// A reply, briefly.
pub fn reply(r: &Reply) -> String {
    match r {
        Err(code) => format!("{code:?}"),
        Ok(Response::Create { path, .. }) => path.clone(),
        Ok(Response::Empty) => "ok".into(),
        Ok(Response::Stat { stat }) => format!("ok (version {})", stat.version),
        Ok(Response::Data { data, stat }) => {
            format!("{} (version {})", data.display(), stat.version)
        }
        Ok(Response::Acl { acl, .. }) => format!("{} ACL entries", acl.len()),
        Ok(Response::Children { children, .. }) => format!("[{}]", children.join(", ")),
        Ok(Response::Sync { path }) => path.clone(),
        Ok(Response::Multi { results }) => {
            let each: Vec<String> = results
                .iter()
                .map(|r| match r {
                    OpResult::Create { path, .. } => path.clone(),
                    OpResult::Delete | OpResult::Check => "ok".into(),
                    OpResult::SetData { stat } => format!("v{}", stat.version),
                    OpResult::Error { code } => format!("{code:?}"),
                })
                .collect();
            format!("[{}]", each.join(", "))
        }
    }
}

fn change(c: &Change) -> String {
    match c {
        Change::SessionCreated { zxid, session } => {
            format!("zxid {zxid:#x}: session {session:#x} created")
        }
        Change::SessionClosed {
            zxid,
            session,
            expired,
        } => format!(
            "zxid {zxid:#x}: session {session:#x} {}",
            if *expired { "expired" } else { "closed" }
        ),
        Change::Created {
            zxid,
            path,
            data,
            owner,
            ..
        } => format!(
            "zxid {zxid:#x}: created {path} {}{}",
            data.display(),
            owner.map_or(String::new(), |o| format!(" (ephemeral of {o:#x})"))
        ),
        Change::Deleted { zxid, path, .. } => format!("zxid {zxid:#x}: deleted {path}"),
        Change::DataChanged {
            zxid,
            path,
            data,
            version,
            ..
        } => {
            format!(
                "zxid {zxid:#x}: set {path} {} (version {version})",
                data.display()
            )
        }
    }
}

/// Renders a whole trace.
pub fn render(t: &Trace) -> String {
    let names = &t.header.processes;
    let width = names.iter().map(String::len).max().unwrap_or(2).max(6);
    let mut sent: BTreeMap<(usize, i32), Request> = BTreeMap::new();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# {} seed {}{}: {}",
        t.header.recipe,
        t.header.seed,
        if t.header.swarm { " (swarm)" } else { "" },
        count(names.len(), "process", "processes")
    );
    for s in &t.steps {
        let mut line = |who: &str, text: String| {
            let _ = writeln!(out, "[{:>7}ms] {who:<width$} {text}", s.time_ms);
        };
        if let Some(Action::StopFaults) = s.action {
            line("--", "faults stop: liveness phase".into());
        }
        for e in &s.events {
            let name = |p: &usize| names.get(*p).map_or("?", String::as_str);
            match e {
                Event::Sent {
                    process,
                    xid,
                    request,
                } => {
                    sent.insert((*process, *xid), request.clone());
                }
                Event::Handled { .. } => {}
                Event::Changed { change: c } => line("zk", change(c)),
                Event::Replied {
                    process,
                    xid,
                    reply: r,
                } => {
                    let req = sent.remove(&(*process, *xid));
                    let op = req.as_ref().map_or_else(|| format!("xid {xid}"), request);
                    line(name(process), format!("{op} -> {}", reply(r)));
                }
                Event::Notified { process, event } => {
                    let text = if event.kind == EventType::None {
                        format!("WATCHER:: state {:?}", event.state)
                    } else {
                        format!("WATCHER:: {:?} {}", event.kind, event.path)
                    };
                    line(name(process), text);
                }
                Event::Lost {
                    process,
                    xid,
                    to_server,
                } => line(
                    name(process),
                    if *to_server {
                        format!("lost request xid {xid} on the way to the server (not applied)")
                    } else if *xid == 0 {
                        "lost an event on the way back".to_string()
                    } else {
                        format!("lost the reply to xid {xid} (the server had handled it)")
                    },
                ),
                Event::TimerFired { process, timer } => {
                    line(name(process), format!("timer {timer} fires"))
                }
                Event::Chose {
                    process,
                    choice,
                    option,
                } => line(name(process), format!("choice {choice} -> option {option}")),
                Event::Crashed { process } => {
                    let killed = matches!(s.action, Some(Action::Kill { .. }));
                    line(
                        name(process),
                        if killed { "KILLED (for good)" } else { "CRASH" }.into(),
                    )
                }
                Event::SessionOpened {
                    process,
                    session,
                    timeout_ms,
                } => line(
                    name(process),
                    format!("connected: session {session:#x}, timeout {timeout_ms}ms"),
                ),
                Event::Disconnected { process } => line(name(process), "DISCONNECTED".into()),
                Event::ServerRestarted { zxid } => line(
                    "zk",
                    format!("SERVER RESTART on its data directory (last zxid {zxid:#x})"),
                ),
                Event::Reconnected { process, expired } => line(
                    name(process),
                    if *expired {
                        "reconnect -> session EXPIRED".into()
                    } else {
                        "reconnect -> same session".into()
                    },
                ),
                Event::Noted {
                    process,
                    claim,
                    path,
                    repeat,
                } => line(
                    name(process),
                    format!("# {claim} {path}{}", if *repeat { " (again)" } else { "" }),
                ),
                Event::Log { process, line: l } => line(name(process), format!("# {l}")),
            }
        }
    }
    if let Some(end) = &t.end {
        let _ = writeln!(
            out,
            "# {}, {}",
            count(end.steps, "step", "steps"),
            count(end.events, "event", "events")
        );
        for v in &end.violations {
            let _ = writeln!(out, "# VIOLATED after step {}: {}", v.step, v.property);
        }
        if end.violations.is_empty() {
            let _ = writeln!(out, "# every property held");
        }
    }
    out
}
