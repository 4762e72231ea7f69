//! A trace as a Mermaid `sequenceDiagram`: one participant per process plus `zk`, a request
//! as a message to `zk` when it is sent, the server's answer as a message back when it is
//! handled, everything else (znode changes, watch and session events, faults, claims) as notes.

use std::collections::BTreeMap;
use std::fmt::Write;

use zksim_model::op::EventType;
use zksim_sim::action::Action;
use zksim_sim::event::Event;
use zksim_sim::render;
use zksim_sim::trace::Trace;

/// Mermaid reads `;` as a statement end and `#` as an entity start; both become entities.
fn text(s: &str) -> String {
    s.replace('#', "#35;").replace(';', "#59;")
}

/// The diagram for a whole trace. Log lines and timer and choice events are left out: they are
/// in `zksim render`.
pub fn mermaid(t: &Trace) -> String {
    let names = &t.header.processes;
    let mut out = String::from("sequenceDiagram\n");
    for n in names {
        let _ = writeln!(out, "    participant {n}");
    }
    out.push_str("    participant zk\n");
    let mut replied_by_server: BTreeMap<(usize, i32), ()> = BTreeMap::new();
    let violations: Vec<(&str, u64)> = t.end.as_ref().map_or(Vec::new(), |e| {
        e.violations
            .iter()
            .map(|v| (v.property.as_str(), v.step))
            .collect()
    });
    for s in &t.steps {
        for e in &s.events {
            let name = |p: &usize| names.get(*p).map_or("?", String::as_str);
            let line = match e {
                Event::Sent {
                    process,
                    xid,
                    request,
                } => format!(
                    "{}->>zk: {xid}: {}",
                    name(process),
                    text(&render::request(request))
                ),
                Event::Handled {
                    process,
                    xid,
                    reply,
                    ..
                } => {
                    replied_by_server.insert((*process, *xid), ());
                    format!(
                        "zk-->>{}: {xid}: {}",
                        name(process),
                        text(&render::reply(reply))
                    )
                }
                Event::Replied {
                    process,
                    xid,
                    reply,
                } => {
                    if replied_by_server.remove(&(*process, *xid)).is_some() {
                        continue;
                    }
                    format!(
                        "Note over {}: {xid}: {}",
                        name(process),
                        text(&render::reply(reply))
                    )
                }
                Event::Changed { change } => format!(
                    "Note over zk: {}",
                    text(&super::change_label(change, |s| format!("{s:#x}")))
                ),
                Event::Notified { process, event } => {
                    if event.kind == EventType::None {
                        format!("Note over {}: state {:?}", name(process), event.state)
                    } else {
                        format!(
                            "zk-){}: {:?} {}",
                            name(process),
                            event.kind,
                            text(&event.path)
                        )
                    }
                }
                Event::Lost {
                    process,
                    xid,
                    to_server,
                } => format!(
                    "Note over {}: {} xid {xid} lost",
                    name(process),
                    if *to_server { "request" } else { "reply" }
                ),
                Event::Crashed { process } => {
                    let killed = matches!(s.action, Some(Action::Kill { .. }));
                    let what = if killed { "KILLED" } else { "CRASH" };
                    format!("Note over {}: {what}", name(process))
                }
                Event::SessionOpened {
                    process, session, ..
                } => format!("Note over {}: session {session:#x}", name(process)),
                Event::Disconnected { process } => {
                    format!("Note over {}: DISCONNECTED", name(process))
                }
                Event::ServerRestarted { .. } => "Note over zk: SERVER RESTART".to_string(),
                Event::Reconnected { process, expired } => format!(
                    "Note over {}: {}",
                    name(process),
                    if *expired {
                        "reconnect: EXPIRED"
                    } else {
                        "reconnected"
                    }
                ),
                Event::Noted {
                    process,
                    claim,
                    path,
                    ..
                } => format!(
                    "Note over {}: {}",
                    name(process),
                    text(&format!("{claim} {path}"))
                ),
                Event::TimerFired { .. } | Event::Chose { .. } | Event::Log { .. } => continue,
            };
            let _ = writeln!(out, "    {line}");
        }
        for (property, _) in violations.iter().filter(|(_, at)| *at == s.step) {
            let _ = writeln!(
                out,
                "    Note over {},zk: VIOLATED after step {}: {}",
                names.first().map_or("zk", String::as_str),
                s.step,
                text(property)
            );
        }
    }
    out
}
