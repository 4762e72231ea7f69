//! The state graph's labels: a state by what tells it apart from its neighbours, a transition
//! by the request it takes to the server or the frame it delivers.
//!
//! A state's label has a line a process (its role's summary, a connection that is not up, then
//! an indented line each for its requests on the way to the server (`->`), the frames on the
//! way back (`<-`, a reply with the request it answers), the calls queued while disconnected,
//! its pending timers and choices, and the paths it watches), then the znodes present (the
//! server's own `/zookeeper` left out) with their data, their version past 0 and their
//! ephemeral owner, then whether faults are on (with the budgets left) or over (with the
//! faults used). Everything comes from ordered collections, so the same state always reads
//! the same. Two states can still share a label where they differ only below it: in zxids,
//! child counters (a parent's `cversion`), xids, a role's state its summary leaves out, or
//! the claims made so far.
//!
//! ```text
//! c1: Checking (Disconnected)
//!   queued get /master
//! /master "c1" (c1)
//! (faults over after 1 disconnect)
//! ```

use zksim_model::client::ClientState;
use zksim_model::op::{EventType, Request};
use zksim_model::role::Role;
use zksim_model::server::ToClient;
use zksim_model::stat::SessionId;

use crate::action::Action;
use crate::plural::count;
use crate::render;
use crate::world::{Process, World};

/// A state's label.
pub(super) fn state<R: Role>(world: &World<R>) -> String {
    let mut lines: Vec<String> = Vec::new();
    for p in world.processes() {
        process(p, &mut lines);
    }
    for (path, node) in world.server().tree().iter() {
        if path.is_empty() || path == "/" || path == "/zookeeper" || path.starts_with("/zookeeper/")
        {
            continue;
        }
        let owner = node
            .owner()
            .map_or(String::new(), |s| format!(" ({})", owner_name(world, s)));
        // A version past the first matters to a conditional write (`check -v 1 /epoch`).
        let version = match node.stat().version {
            0 => String::new(),
            v => format!(" v{v}"),
        };
        lines.push(format!("{path} {}{version}{owner}", node.data.display()));
    }
    lines.push(faults(world));
    lines.join("\n")
}

/// The process's line and its indented details.
fn process<R: Role>(p: &Process<R>, lines: &mut Vec<String>) {
    let Some(client) = p.client() else {
        let down = if p.is_killed() { "killed" } else { "down" };
        lines.push(format!("{}: {down}", p.name));
        return;
    };
    let mut head = format!("{}: {}", p.name, p.role.summary());
    match client.state() {
        ClientState::Connected => {}
        other => head.push_str(&format!(" ({other:?})")),
    }
    lines.push(head);
    for (_, request) in p.to_server() {
        lines.push(format!("  -> {}", render::request(request)));
    }
    for frame in p.to_client() {
        lines.push(format!("  <- {}", frame_label(p, frame)));
    }
    for (_, request) in client.queued() {
        lines.push(format!("  queued {}", render::request(request)));
    }
    let timers: Vec<String> = p.timers().map(|t| t.to_string()).collect();
    if !timers.is_empty() {
        lines.push(format!("  timer {}", timers.join(", ")));
    }
    let choices: Vec<String> = p.choices().map(|(c, n)| format!("{c}/{n}")).collect();
    if !choices.is_empty() {
        lines.push(format!("  choice {}", choices.join(", ")));
    }
    let w = client.watches();
    let mut watched: Vec<String> = Vec::new();
    for (kind, set) in [
        ("", &w.data),
        ("", &w.exist),
        ("ls ", &w.child),
        ("persistent ", &w.persistent),
        ("recursive ", &w.persistent_recursive),
    ] {
        let mut paths: Vec<&str> = set.iter().collect();
        // A table's own order is Java's hash order: sorted, so the label reads the same.
        paths.sort_unstable();
        watched.extend(paths.into_iter().map(|path| format!("{kind}{path}")));
    }
    if !watched.is_empty() {
        lines.push(format!("  watch {}", watched.join(", ")));
    }
}

/// A frame on the way to `p`, a reply with the request it answers.
fn frame_label<R>(p: &Process<R>, frame: &ToClient) -> String {
    match frame {
        ToClient::Reply { xid, reply, .. } => match request_of(p, *xid) {
            Some(request) => format!("{} -> {}", render::request(request), render::reply(reply)),
            None => format!("xid {xid} -> {}", render::reply(reply)),
        },
        ToClient::Event { event } if event.kind == EventType::None => {
            format!("state {:?}", event.state)
        }
        ToClient::Event { event } => format!("WATCH {:?} {}", event.kind, event.path),
        ToClient::Drop => "connection dropped".into(),
    }
}

/// The request numbered `xid` that `p`'s client still waits for.
fn request_of<R>(p: &Process<R>, xid: i32) -> Option<&Request> {
    p.client()?
        .pending()
        .find(|(x, _)| *x == xid)
        .map(|(_, r)| r)
}

/// Who holds a session: the process whose session it is now, else the id.
fn owner_name<R: Role>(world: &World<R>, session: SessionId) -> String {
    holder(world, session).map_or_else(|| format!("{session:#x}"), str::to_string)
}

/// The process whose session it is now.
fn holder<R: Role>(world: &World<R>, session: SessionId) -> Option<&str> {
    world
        .processes()
        .iter()
        .find(|p| p.session() == Some(session))
        .map(|p| &*p.name)
}

/// Whether faults are on, with the budgets left, or over, with the faults used (the budget
/// spent is part of the state even then).
fn faults<R: Role>(world: &World<R>) -> String {
    let o = world.options();
    let used = world.budget();
    let budgets = [
        (o.crashes_max, used.crashes, "crash", "crashes"),
        (o.kills_max, used.kills, "kill", "kills"),
        (
            o.disconnects_max,
            used.disconnects,
            "disconnect",
            "disconnects",
        ),
        (o.expiries_max, used.expiries, "expiry", "expiries"),
        (
            o.server_restarts_max,
            used.server_restarts,
            "server restart",
            "server restarts",
        ),
        (o.stalls_max, used.stalls, "stall", "stalls"),
    ];
    let counts = |n: fn(u32, u32) -> u32| -> Vec<String> {
        budgets
            .iter()
            .map(|&(max, used, one, many)| (n(max, used), one, many))
            .filter(|(k, ..)| *k > 0)
            .map(|(k, one, many)| count(k, one, many))
            .collect()
    };
    if world.faults_on() {
        format!(
            "(faults on: {} left)",
            counts(|max, used| max - used).join(", ")
        )
    } else {
        match counts(|_, used| used) {
            spent if spent.is_empty() => "(faults over)".into(),
            spent => format!("(faults over after {})", spent.join(", ")),
        }
    }
}

/// A transition's label: the request taken to the server, the frame delivered, or the action.
pub(super) fn action<R: Role>(world: &World<R>, action: &Action) -> String {
    let processes = world.processes();
    let name = |p: usize| processes.get(p).map_or("?", |p| &*p.name).to_string();
    match *action {
        Action::ToServer { process } => {
            match processes.get(process).and_then(|p| p.to_server().next()) {
                Some((_, request)) => format!("{}: {}", name(process), render::request(request)),
                None => format!("{} -> zk", name(process)),
            }
        }
        Action::ToClient { process } => match processes
            .get(process)
            .and_then(|p| Some((p, p.to_client().next()?)))
        {
            Some((p, frame)) => format!("zk -> {}: {}", name(process), frame_label(p, frame)),
            None => format!("zk -> {}", name(process)),
        },
        Action::Timer { process, timer } => format!("{} timer {timer}", name(process)),
        Action::Choose {
            process, option, ..
        } => format!("{} chooses {option}", name(process)),
        Action::Crash { process } => format!("crash {}", name(process)),
        Action::Kill { process } => format!("kill {}", name(process)),
        Action::Restart { process } => format!("restart {}", name(process)),
        Action::Disconnect { process } => format!("disconnect {}", name(process)),
        Action::Reconnect { process } => format!("reconnect {}", name(process)),
        Action::Stall { process, ms } => format!("stall {} {ms} ms", name(process)),
        Action::Expire { session } => match holder(world, session) {
            Some(p) => format!("expire {p}'s session"),
            None => format!("expire {session:#x}"),
        },
        Action::StopFaults => "faults stop".into(),
        Action::Advance { ms } => format!("{ms} ms pass"),
        Action::RestartServer => "restart the server".into(),
    }
}
