//! Scenarios: a recipe, a shape, options and a seed, an expectation, and scripted faults, in a
//! TOML file (documented in `docs/SCENARIOS.md`).
//!
//! ```toml
//! recipe = "fixed"
//! seed = 1
//! expect = "pass"                       # or the name of the property expected to be violated
//!
//! [options]                             # any Options knob; random faults are off by default
//! steps_max = 600
//!
//! [[fault]]                             # crash whoever owns /master at 1200 ms
//! action = "crash"
//! process = "master"
//! at_ms = 1200
//!
//! [[fault]]                             # cut w2 off when its first assignment appears
//! action = "disconnect"
//! process = "w2"
//! on = { event = "change", op = "created", path = "/assign/w2/*" }
//! ```
//!
//! A scenario runs the seeded simulator's policy (the one `simulate` uses) with random faults
//! off unless `options.fault_per_mille` says otherwise; each scripted fault is taken, as its
//! [`Action`], at the first step where its trigger has held and the action is enabled. The
//! result is an ordinary trace, so replay, render, shrink and diff work on it.

use std::collections::BTreeMap;
use std::ops::Range;

use serde::Deserialize;
use toml::Spanned;
use zksim_model::children::ChildOrder;
use zksim_model::error::ErrorCode;
use zksim_model::op::{EventType, Request};
use zksim_model::server::Change;
use zksim_model::stat::SessionId;

use crate::action::{Action, ProcessId};
use crate::error::{InputError, RunError, UnknownRecipe};
use crate::event::Event;
use crate::options::{Invalid, Options, TimeMode};
use crate::recipes::{self, Recipe};
use crate::run::{self, Outcome, Random, Source};
use crate::world::World;
use zksim_model::role::Role;

/// What a scenario expects of its run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Expect {
    /// No property is violated and every scripted fault is taken.
    Pass,
    /// This property is violated.
    Violated(String),
}

/// The fault a script injects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// [`Action::Crash`].
    Crash,
    /// [`Action::Kill`].
    Kill,
    /// [`Action::Restart`].
    Restart,
    /// [`Action::Disconnect`].
    Disconnect,
    /// [`Action::Reconnect`].
    Reconnect,
    /// [`Action::Expire`] of the process's session (abstract time only).
    Expire,
    /// [`Action::RestartServer`]: names no process.
    RestartServer,
}

const FAULT_KINDS: [(&str, FaultKind); 7] = [
    ("crash", FaultKind::Crash),
    ("kill", FaultKind::Kill),
    ("restart", FaultKind::Restart),
    ("disconnect", FaultKind::Disconnect),
    ("reconnect", FaultKind::Reconnect),
    ("expire", FaultKind::Expire),
    ("restart_server", FaultKind::RestartServer),
];

/// Which process a fault or a trigger names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A process by index.
    Process(ProcessId),
    /// Whichever process's session owns `/master` at the moment.
    Master,
}

/// The kinds of [`Event`] a trigger can match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EventKind {
    /// [`Event::Sent`]: a request put on the link.
    Request,
    /// [`Event::Handled`]: the server answered a request (a write is applied).
    Handled,
    /// [`Event::Replied`]: a reply reached the role.
    Reply,
    /// [`Event::Notified`]: a watch or session event reached the role.
    Watch,
    /// [`Event::Changed`]: the server committed a change.
    Change,
    /// [`Event::Lost`]: a message lost with its connection.
    Lost,
    /// [`Event::TimerFired`].
    Timer,
    /// [`Event::Chose`].
    Choice,
    /// [`Event::Crashed`].
    Crash,
    /// [`Event::SessionOpened`].
    Session,
    /// [`Event::Disconnected`].
    Disconnect,
    /// [`Event::Reconnected`].
    Reconnect,
    /// [`Event::Noted`]: a role's claim.
    Note,
    /// [`Event::Log`]: a role's log line.
    Log,
}

const EVENT_KINDS: [(&str, EventKind); 14] = [
    ("request", EventKind::Request),
    ("handled", EventKind::Handled),
    ("reply", EventKind::Reply),
    ("watch", EventKind::Watch),
    ("change", EventKind::Change),
    ("lost", EventKind::Lost),
    ("timer", EventKind::Timer),
    ("choice", EventKind::Choice),
    ("crash", EventKind::Crash),
    ("session", EventKind::Session),
    ("disconnect", EventKind::Disconnect),
    ("reconnect", EventKind::Reconnect),
    ("note", EventKind::Note),
    ("log", EventKind::Log),
];

const REQUEST_OPS: [&str; 13] = [
    "create",
    "delete",
    "exists",
    "get",
    "set",
    "getAcl",
    "setAcl",
    "ls",
    "sync",
    "check",
    "multi",
    "removewatches",
    "addWatch",
];

const WATCH_OPS: [&str; 13] = [
    "NodeCreated",
    "NodeDeleted",
    "NodeDataChanged",
    "NodeChildrenChanged",
    "DataWatchRemoved",
    "ChildWatchRemoved",
    "PersistentWatchRemoved",
    "Disconnected",
    "SyncConnected",
    "AuthFailed",
    "ConnectedReadOnly",
    "Expired",
    "Closed",
];

const CHANGE_OPS: [&str; 6] = [
    "created",
    "deleted",
    "data_changed",
    "session_created",
    "session_closed",
    "session_expired",
];

/// What a trigger waits for: the `nth` event of a kind matching every given field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventMatch {
    /// The kind.
    pub kind: EventKind,
    /// The event's process (for a change: the process whose session made it).
    pub process: Option<Target>,
    /// The operation (request name, watch type or session state, change kind, claim).
    pub op: Option<String>,
    /// A glob over the path (`*` within a segment, `**` across segments, `?` one character).
    pub path: Option<String>,
    /// `ok` or an error code name.
    pub reply: Option<String>,
    /// A glob over a log line.
    pub text: Option<String>,
    /// Which matching occurrence (from 1).
    pub nth: u32,
}

/// One scripted fault.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What to inject.
    pub kind: FaultKind,
    /// On which process (`None` for a server restart).
    pub target: Option<Target>,
    /// No earlier than this virtual time.
    pub at_ms: Option<u64>,
    /// Once this event has been seen (at or after `at_ms`).
    pub on: Option<EventMatch>,
    /// The file line of its `[[fault]]`.
    pub line: usize,
    /// How the file says it, for messages.
    pub about: String,
}

/// A validated scenario, ready to run.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// Its name (the `name` field, or the file's stem).
    pub name: String,
    /// The file it came from.
    pub file: String,
    /// The recipe's name.
    pub recipe: String,
    /// The seed.
    pub seed: u64,
    /// The options the run uses (budgets raised to cover the script).
    pub options: Options,
    /// The expectation.
    pub expect: Expect,
    /// The script.
    pub faults: Vec<Fault>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSpec {
    name: Option<String>,
    #[allow(dead_code)]
    about: Option<String>,
    recipe: Spanned<String>,
    seed: u64,
    expect: Spanned<String>,
    options: Option<Spanned<Options>>,
    #[serde(default)]
    fault: Vec<Spanned<FaultSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultSpec {
    action: Spanned<String>,
    process: Option<Spanned<String>>,
    at_ms: Option<Spanned<u64>>,
    on: Option<Spanned<OnSpec>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OnSpec {
    event: Spanned<String>,
    process: Option<Spanned<String>>,
    op: Option<Spanned<String>>,
    path: Option<Spanned<String>>,
    reply: Option<Spanned<String>>,
    text: Option<Spanned<String>>,
    nth: Option<Spanned<u32>>,
}

/// Reads and validates a scenario file. Errors read `FILE:LINE: problem`.
pub fn load(path: &std::path::Path) -> Result<Scenario, InputError> {
    let file = path.display().to_string();
    let text = crate::files::read_text(path)?;
    parse(&text, &file)
}

/// [`load`] for a recipe that is not built in (a recipe of your own roles).
pub fn load_with<R: Role>(
    recipe: &Recipe<R>,
    path: &std::path::Path,
) -> Result<Scenario, InputError> {
    let file = path.display().to_string();
    let text = crate::files::read_text(path)?;
    parse_with(recipe, &text, &file)
}

/// Parses and validates scenario text; `file` names it in errors and gives the default name.
/// Everything is checked here (recipe, processes, properties, times, triggers), so a scenario
/// that parses runs.
pub fn parse(text: &str, file: &str) -> Result<Scenario, InputError> {
    parse_picking(text, file, |name| {
        recipes::find(name).map_err(Unpicked::Unknown)
    })
}

/// [`parse`] for a recipe that is not built in (a recipe of your own roles): the file's
/// `recipe` must name it.
pub fn parse_with<R: Role>(
    recipe: &Recipe<R>,
    text: &str,
    file: &str,
) -> Result<Scenario, InputError> {
    parse_picking(text, file, |name| {
        if name == recipe.name {
            Ok(recipe.clone())
        } else {
            Err(Unpicked::Other(format!(
                "the scenario is of recipe {name:?}, not {:?}",
                recipe.name
            )))
        }
    })
}

/// Why a scenario's recipe was not found.
enum Unpicked {
    /// No built-in recipe has its name.
    Unknown(UnknownRecipe),
    /// Another problem, told as it is.
    Other(String),
}

/// The line and column (from 1, the column in characters) where `offset` falls in `text`.
fn place(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

/// Parses and checks a scenario, finding its recipe by name with `pick`.
fn parse_picking<R: Role>(
    text: &str,
    file: &str,
    pick: impl FnOnce(&str) -> Result<Recipe<R>, Unpicked>,
) -> Result<Scenario, InputError> {
    let at = |span: Range<usize>, problem: String| {
        let (line, column) = place(text, span.start);
        InputError::At {
            file: file.to_string(),
            line,
            column,
            problem,
        }
    };
    let whole = |problem: String| InputError::Whole {
        file: file.to_string(),
        problem,
    };
    let spec: FileSpec = toml::from_str(text).map_err(|e| match e.span() {
        Some(span) => at(span, e.message().trim().to_string()),
        None => whole(e.message().trim().to_string()),
    })?;
    let recipe = pick(spec.recipe.get_ref()).map_err(|e| match e {
        Unpicked::Unknown(error) => {
            let (line, column) = place(text, spec.recipe.span().start);
            InputError::UnknownRecipe {
                file: file.to_string(),
                line,
                column,
                error,
            }
        }
        Unpicked::Other(problem) => at(spec.recipe.span(), problem),
    })?;
    let options_span = spec.options.as_ref().map_or(0..0, |o| o.span());
    let mut options = spec.options.map(Spanned::into_inner).unwrap_or_default();
    // Random faults are off unless the file sets their rate.
    let raw: toml::Table = toml::from_str(text).map_err(|e| whole(e.to_string()))?;
    let sets_rate = raw
        .get("options")
        .and_then(|o| o.as_table())
        .is_some_and(|o| o.contains_key("fault_per_mille"));
    if !sets_rate {
        options.fault_per_mille = 0;
    }
    if let ChildOrder::Shuffled { .. } = options.child_order {
        options.child_order = ChildOrder::Shuffled { seed: spec.seed };
    }
    // Checked before the processes are built: a shape out of range would not fit in memory.
    recipes::validate(recipe.name, &options).map_err(|e| {
        let key = e.field.rsplit('.').next().unwrap_or(e.field);
        at(
            key_span(text, key).unwrap_or(options_span.clone()),
            format!("options.{e}"),
        )
    })?;
    if let Some(f) = spec.fault.get(Options::FAULTS_MAX as usize) {
        return Err(at(
            f.span(),
            format!(
                "more than {} faults: a scenario scripts at most that many",
                Options::FAULTS_MAX
            ),
        ));
    }
    let properties: Vec<&'static str> = recipe.properties().iter().map(|p| p.name).collect();
    for name in &options.unchecked {
        if !properties.contains(&name.as_str()) {
            return Err(at(
                options_span.clone(),
                format!(
                    "options.unchecked: recipe {} has no property {name:?} (it has: {})",
                    recipe.name,
                    properties.join("; ")
                ),
            ));
        }
    }
    let expect = match spec.expect.get_ref().as_str() {
        "pass" => Expect::Pass,
        name if properties.contains(&name) => {
            if options.unchecked.iter().any(|u| u == name) {
                return Err(at(
                    spec.expect.span(),
                    format!("expect: {name:?} is in options.unchecked, so it is never checked"),
                ));
            }
            Expect::Violated(name.to_string())
        }
        other => {
            return Err(at(
                spec.expect.span(),
                format!(
                "expect: {other:?} is neither \"pass\" nor a property of recipe {} (it has: {})",
                recipe.name,
                properties.join("; ")
            ),
            ))
        }
    };
    let names: Vec<String> = recipe
        .processes(&options, spec.seed)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    let target = |s: &Spanned<String>| -> Result<Target, InputError> {
        let name = s.get_ref();
        if name == "master" {
            return Ok(Target::Master);
        }
        names
            .iter()
            .position(|n| n == name)
            .map(Target::Process)
            .ok_or_else(|| {
                at(
                    s.span(),
                    format!(
                        "no process {name:?}: recipe {} with this shape runs {} (or \"master\": \
                         whichever owns /master)",
                        recipe.name,
                        names.join(", ")
                    ),
                )
            })
    };
    let timed = options.time == TimeMode::Timed;
    let mut faults = Vec::new();
    for f in &spec.fault {
        let span = f.span();
        let f = f.get_ref();
        let kind = FAULT_KINDS
            .iter()
            .find(|(n, _)| n == f.action.get_ref())
            .map(|(_, k)| *k)
            .ok_or_else(|| {
                at(
                    f.action.span(),
                    format!(
                        "unknown action {:?} (known: {})",
                        f.action.get_ref(),
                        FAULT_KINDS.map(|(n, _)| n).join(", ")
                    ),
                )
            })?;
        if kind == FaultKind::Expire && timed {
            return Err(at(
                f.action.span(),
                "expire needs options.time = \"abstract\" (with a clock, a silent session \
                 expires by itself once its timeout has passed)"
                    .into(),
            ));
        }
        let process = match (&f.process, kind) {
            (Some(p), FaultKind::RestartServer) => {
                return Err(at(
                    p.span(),
                    "restart_server names no process: it restarts the server, and every \
                     connection drops"
                        .into(),
                ))
            }
            (None, FaultKind::RestartServer) => None,
            (Some(p), _) => Some(target(p)?),
            (None, _) => {
                return Err(at(
                    f.action.span(),
                    format!("{} needs a process", f.action.get_ref()),
                ))
            }
        };
        if let Some(t) = &f.at_ms {
            Invalid::at_most("at_ms", *t.get_ref(), Options::DURATION_MS_MAX)
                .map_err(|e| at(t.span(), e.to_string()))?;
            if !timed {
                return Err(at(
                    t.span(),
                    "at_ms needs a clock, but options.time is \"abstract\"; trigger on an event \
                     instead"
                        .into(),
                ));
            }
        }
        let on = match &f.on {
            None => None,
            Some(on) => Some(event_match(on.get_ref(), &at, &target)?),
        };
        if f.at_ms.is_none() && on.is_none() {
            return Err(at(
                span,
                "a fault needs a trigger: at_ms, on, or both".to_string(),
            ));
        }
        let line = text[..span.start].matches('\n').count() + 1;
        let mut about = f.action.get_ref().clone();
        if let Some(p) = &f.process {
            about.push_str(&format!(" {}", p.get_ref()));
        }
        if let Some(t) = &f.at_ms {
            about.push_str(&format!(" at {}ms", t.get_ref()));
        }
        if let Some(on) = &f.on {
            let src = &text[on.span()];
            about.push_str(&format!(
                " on {}",
                src.split_whitespace().collect::<Vec<_>>().join(" ")
            ));
        }
        faults.push(Fault {
            kind,
            target: process,
            at_ms: f.at_ms.as_ref().map(|t| *t.get_ref()),
            on,
            line,
            about,
        });
    }
    // The budgets cover the script (random faults, when on, share them).
    let count = |k: FaultKind| faults.iter().filter(|f| f.kind == k).count() as u32;
    options.crashes_max = options.crashes_max.max(count(FaultKind::Crash));
    options.kills_max = options.kills_max.max(count(FaultKind::Kill));
    options.disconnects_max = options.disconnects_max.max(count(FaultKind::Disconnect));
    options.expiries_max = options.expiries_max.max(count(FaultKind::Expire));
    options.server_restarts_max = options
        .server_restarts_max
        .max(count(FaultKind::RestartServer));
    let name = spec.name.unwrap_or_else(|| {
        std::path::Path::new(file)
            .file_stem()
            .map_or(file.to_string(), |s| s.to_string_lossy().into_owned())
    });
    Ok(Scenario {
        name,
        file: file.to_string(),
        recipe: recipe.name.to_string(),
        seed: spec.seed,
        options,
        expect,
        faults,
    })
}

/// Where `key = ...` is first set in the file, for an error about that field.
fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if let Some(rest) = trimmed.strip_prefix(key) {
            if rest.trim_start().starts_with('=') {
                let start = offset + (line.len() - trimmed.len());
                return Some(start..start + key.len());
            }
        }
        offset += line.len();
    }
    None
}

fn event_match(
    on: &OnSpec,
    at: &dyn Fn(Range<usize>, String) -> InputError,
    target: &dyn Fn(&Spanned<String>) -> Result<Target, InputError>,
) -> Result<EventMatch, InputError> {
    let kind = EVENT_KINDS
        .iter()
        .find(|(n, _)| n == on.event.get_ref())
        .map(|(_, k)| *k)
        .ok_or_else(|| {
            at(
                on.event.span(),
                format!(
                    "unknown event {:?} (known: {})",
                    on.event.get_ref(),
                    EVENT_KINDS.map(|(n, _)| n).join(", ")
                ),
            )
        })?;
    let event = on.event.get_ref();
    let not_for = |field: &str, s: &Spanned<String>| {
        at(
            s.span(),
            format!("{field} does not apply to a {event} event"),
        )
    };
    use EventKind as K;
    if let Some(op) = &on.op {
        let known: &[&str] = match kind {
            K::Request | K::Handled | K::Reply => &REQUEST_OPS,
            K::Watch => &WATCH_OPS,
            K::Change => &CHANGE_OPS,
            K::Note => &[],
            _ => return Err(not_for("op", op)),
        };
        if !known.is_empty() && !known.contains(&op.get_ref().as_str()) {
            return Err(at(
                op.span(),
                format!(
                    "unknown op {:?} for a {event} event (known: {})",
                    op.get_ref(),
                    known.join(", ")
                ),
            ));
        }
    }
    if let Some(path) = &on.path {
        if !matches!(
            kind,
            K::Request | K::Handled | K::Reply | K::Watch | K::Change | K::Note
        ) {
            return Err(not_for("path", path));
        }
        if kind != K::Note && !path.get_ref().starts_with('/') {
            return Err(at(
                path.span(),
                format!("path {:?} must start with /", path.get_ref()),
            ));
        }
    }
    if let Some(reply) = &on.reply {
        if !matches!(kind, K::Handled | K::Reply) {
            return Err(not_for("reply", reply));
        }
        let name = reply.get_ref();
        if name != "ok"
            && serde_json::from_value::<ErrorCode>(serde_json::Value::String(name.clone())).is_err()
        {
            return Err(at(
                reply.span(),
                format!("reply {name:?} is neither \"ok\" nor an error code such as \"ConnectionLoss\" or \"NodeExists\""),
            ));
        }
    }
    if let Some(text) = &on.text {
        if kind != K::Log {
            return Err(not_for("text", text));
        }
    }
    for (field, glob) in [("path", &on.path), ("text", &on.text)] {
        if let Some(g) = glob.as_ref().filter(|g| g.get_ref().len() > GLOB_LEN_MAX) {
            return Err(at(
                g.span(),
                format!(
                    "{field}: a glob of {} bytes is over the limit of {GLOB_LEN_MAX}",
                    g.get_ref().len()
                ),
            ));
        }
    }
    let nth = match &on.nth {
        None => 1,
        Some(n) if *n.get_ref() == 0 => {
            return Err(at(n.span(), "nth counts from 1".into()));
        }
        Some(n) => {
            Invalid::at_most("nth", u64::from(*n.get_ref()), u64::from(NTH_MAX))
                .map_err(|e| at(n.span(), e.to_string()))?;
            *n.get_ref()
        }
    };
    Ok(EventMatch {
        kind,
        process: on.process.as_ref().map(target).transpose()?,
        op: on.op.as_ref().map(|s| s.get_ref().clone()),
        path: on.path.as_ref().map(|s| s.get_ref().clone()),
        reply: on.reply.as_ref().map(|s| s.get_ref().clone()),
        text: on.text.as_ref().map(|s| s.get_ref().clone()),
        nth,
    })
}

/// The longest glob a trigger's `path` or `text` may be, in bytes: far longer than any path
/// a recipe writes, and short enough that matching stays cheap (see [`glob`]).
pub const GLOB_LEN_MAX: usize = 1024;

/// The largest `nth` a trigger may ask for: more matching events than a run of the longest
/// phases ([`Options::STEPS_MAX`] steps each) produces of one kind, so a larger one is a typo
/// (it could never trigger).
pub const NTH_MAX: u32 = 1_000_000;

/// One element of a glob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Token {
    /// A byte that matches itself.
    Byte(u8),
    /// `?`: one byte but `/`.
    One,
    /// `*`: any bytes but `/`.
    Segment,
    /// `**` (or a longer run of `*`): any bytes.
    Any,
}

/// The glob's tokens; a run of two or more `*` is one [`Token::Any`] (`***` is `**` then
/// `*`, which matches what `**` alone does).
fn tokens(pattern: &[u8]) -> Vec<Token> {
    let mut out = Vec::with_capacity(pattern.len());
    let mut i = 0;
    while i < pattern.len() {
        let stars = pattern[i..].iter().take_while(|&&c| c == b'*').count();
        out.push(match (stars, pattern[i]) {
            (0, b'?') => Token::One,
            (0, c) => Token::Byte(c),
            (1, _) => Token::Segment,
            _ => Token::Any,
        });
        i += stars.max(1);
    }
    out
}

/// Whether `text` matches `pattern`: `**` any characters, `*` any characters but `/`, `?` one
/// character but `/`, anything else itself.
///
/// One pass over the text a token, keeping the set of text prefixes the pattern so far can
/// match: O(pattern × text) time and O(text) memory whatever the pattern, where trying
/// every split of the text at each `*` would take exponential time on `/**a**a**a...b`.
///
/// ```
/// use zksim_sim::scenario::glob;
/// assert!(glob("/assign/*/*", "/assign/w1/task-1"));
/// assert!(!glob("/assign/*", "/assign/w1/task-1"));
/// assert!(glob("/**/task-?", "/assign/w1/task-1"));
/// assert!(!glob(&"**a".repeat(30), &"a".repeat(29)));
/// ```
pub fn glob(pattern: &str, text: &str) -> bool {
    let t = text.as_bytes();
    // reach[j]: the tokens so far match t[..j].
    let mut reach = vec![false; t.len() + 1];
    reach[0] = true;
    let mut next = vec![false; t.len() + 1];
    for token in tokens(pattern.as_bytes()) {
        next[0] = matches!(token, Token::Segment | Token::Any) && reach[0];
        for j in 1..=t.len() {
            let c = t[j - 1];
            next[j] = match token {
                Token::Byte(b) => reach[j - 1] && c == b,
                Token::One => reach[j - 1] && c != b'/',
                Token::Segment => reach[j] || (next[j - 1] && c != b'/'),
                Token::Any => reach[j] || next[j - 1],
            };
        }
        std::mem::swap(&mut reach, &mut next);
        if !reach.contains(&true) {
            return false;
        }
    }
    reach[t.len()]
}

/// The process holding this session now.
fn holder<R: Role>(world: &World<R>, session: SessionId) -> Option<ProcessId> {
    world
        .processes()
        .iter()
        .position(|p| p.session() == Some(session))
}

fn resolve<R: Role>(target: &Target, world: &World<R>) -> Option<ProcessId> {
    match target {
        Target::Process(p) => Some(*p),
        Target::Master => crate::properties::master_owner(world).and_then(|s| holder(world, s)),
    }
}

impl EventMatch {
    fn request_matches(&self, r: &Request) -> bool {
        let one = |r: &Request| {
            self.op.as_deref().is_none_or(|op| op == r.name())
                && self
                    .path
                    .as_deref()
                    .is_none_or(|g| r.path().is_some_and(|p| glob(g, p)))
        };
        one(r)
            || match r {
                Request::Multi { ops } => ops.iter().any(one),
                _ => false,
            }
    }

    fn reply_matches(&self, reply: &zksim_model::op::Reply) -> bool {
        match (self.reply.as_deref(), reply) {
            (None, _) => true,
            (Some("ok"), Ok(_)) => true,
            (Some(name), Err(code)) => format!("{code:?}") == name,
            _ => false,
        }
    }

    fn path_matches(&self, path: &str) -> bool {
        self.path.as_deref().is_none_or(|g| glob(g, path))
    }

    fn op_is(&self, op: &str) -> bool {
        self.op.as_deref().is_none_or(|o| o == op)
    }

    fn matches<R: Role>(
        &self,
        ev: &Event,
        world: &World<R>,
        requests: &BTreeMap<(ProcessId, i32), Request>,
    ) -> bool {
        let who = self.process.as_ref().map(|t| resolve(t, world));
        let by = |p: Option<ProcessId>| who.is_none_or(|w| w.is_some() && w == p);
        let request = |process: ProcessId, xid: i32| requests.get(&(process, xid));
        use EventKind as K;
        match (self.kind, ev) {
            (
                K::Request,
                Event::Sent {
                    process, request, ..
                },
            ) => by(Some(*process)) && self.request_matches(request),
            (
                K::Handled,
                Event::Handled {
                    process,
                    xid,
                    reply,
                    ..
                },
            )
            | (
                K::Reply,
                Event::Replied {
                    process,
                    xid,
                    reply,
                    ..
                },
            ) => {
                by(Some(*process))
                    && self.reply_matches(reply)
                    && (self.op.is_none() && self.path.is_none()
                        || request(*process, *xid).is_some_and(|r| self.request_matches(r)))
            }
            (K::Watch, Event::Notified { process, event }) => {
                let op = if event.kind == EventType::None {
                    format!("{:?}", event.state)
                } else {
                    format!("{:?}", event.kind)
                };
                by(Some(*process))
                    && self.op_is(&op)
                    && (self.path.is_none() || self.path_matches(&event.path))
            }
            (K::Change, Event::Changed { change }) => {
                let (op, session, path) = match change {
                    Change::SessionCreated { session, .. } => ("session_created", *session, None),
                    Change::SessionClosed {
                        session, expired, ..
                    } => (
                        if *expired {
                            "session_expired"
                        } else {
                            "session_closed"
                        },
                        *session,
                        None,
                    ),
                    Change::Created { by, path, .. }
                    | Change::Deleted { by, path, .. }
                    | Change::DataChanged { by, path, .. } => {
                        let op = match change {
                            Change::Created { .. } => "created",
                            Change::Deleted { .. } => "deleted",
                            _ => "data_changed",
                        };
                        (op, by.unwrap_or(SessionId::MAX), Some(path.as_str()))
                    }
                };
                let op_ok = self.op_is(op)
                    || (self.op.as_deref() == Some("session_closed") && op == "session_expired");
                op_ok
                    && by(holder(world, session))
                    && (self.path.is_none() || path.is_some_and(|p| self.path_matches(p)))
            }
            (K::Lost, Event::Lost { process, .. })
            | (K::Timer, Event::TimerFired { process, .. })
            | (K::Choice, Event::Chose { process, .. })
            | (K::Crash, Event::Crashed { process })
            | (K::Session, Event::SessionOpened { process, .. })
            | (K::Disconnect, Event::Disconnected { process })
            | (K::Reconnect, Event::Reconnected { process, .. }) => by(Some(*process)),
            (
                K::Note,
                Event::Noted {
                    process,
                    claim,
                    path,
                    ..
                },
            ) => by(Some(*process)) && self.op_is(claim.name()) && self.path_matches(path),
            (K::Log, Event::Log { process, line }) => {
                by(Some(*process)) && self.text.as_deref().is_none_or(|g| glob(g, line))
            }
            _ => false,
        }
    }
}

impl Fault {
    /// The action this fault is now, if its process can be named. `last_sessions` holds each
    /// process's latest session: a crashed or killed process has none of its own any more,
    /// and `expire` then means the session it left behind.
    fn action<R: Role>(
        &self,
        world: &World<R>,
        last_sessions: &[Option<SessionId>],
    ) -> Option<Action> {
        let Some(target) = &self.target else {
            return Some(Action::RestartServer);
        };
        let process = resolve(target, world)?;
        Some(match self.kind {
            FaultKind::Crash => Action::Crash { process },
            FaultKind::Kill => Action::Kill { process },
            FaultKind::Restart => Action::Restart { process },
            FaultKind::Disconnect => Action::Disconnect { process },
            FaultKind::Reconnect => Action::Reconnect { process },
            FaultKind::Expire => Action::Expire {
                session: world
                    .processes()
                    .get(process)?
                    .session()
                    .or(*last_sessions.get(process)?)?,
            },
            FaultKind::RestartServer => Action::RestartServer,
        })
    }
}

/// What became of one scripted fault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Fired {
    /// Matching events seen so far.
    pub seen: u32,
    /// The step after which its trigger held.
    pub triggered: Option<u64>,
    /// The step that took it.
    pub step: Option<u64>,
    /// The virtual time it was taken at.
    pub time_ms: Option<u64>,
}

/// The simulator's policy with the script on top.
struct Scripted<'a> {
    random: Random,
    faults: &'a [Fault],
    state: Vec<Fired>,
    requests: BTreeMap<(ProcessId, i32), Request>,
    steps: u64,
    random_faults: bool,
    /// By process: its latest session, kept after it crashes.
    last_sessions: Vec<Option<SessionId>>,
}

impl<R: Role> Source<R> for Scripted<'_> {
    fn next(&mut self, world: &World<R>) -> Result<Option<Action>, RunError> {
        let now = world.now_ms();
        self.last_sessions.resize(world.processes().len(), None);
        for (last, p) in self.last_sessions.iter_mut().zip(world.processes()) {
            if let Some(s) = p.session() {
                *last = Some(s);
            }
        }
        for (f, st) in self.faults.iter().zip(&mut self.state) {
            if st.triggered.is_none() && f.on.is_none() && f.at_ms.is_some_and(|t| now >= t) {
                st.triggered = Some(self.steps);
            }
        }
        for (f, st) in self.faults.iter().zip(&mut self.state) {
            if st.triggered.is_some() && st.step.is_none() {
                if let Some(a) = f
                    .action(world, &self.last_sessions)
                    .filter(|a| world.is_enabled(a))
                {
                    self.steps += 1;
                    st.step = Some(self.steps);
                    st.time_ms = Some(now);
                    return Ok(Some(a));
                }
            }
        }
        let action = match self.random.next(world)? {
            // Random faults off: when only a fault could happen, faults stop instead. Once
            // they have stopped, an expiry the random source picks is no fault but time
            // passing (abstract time: a session nobody holds any more expires).
            Some(a) if a.is_fault() && !self.random_faults && world.faults_on() => {
                Some(Action::StopFaults)
            }
            // Time stops at the next scripted time, so `at_ms` is exact.
            Some(Action::Advance { ms }) => {
                let cap = self
                    .faults
                    .iter()
                    .zip(&self.state)
                    .filter(|(_, st)| st.step.is_none() && st.triggered.is_none())
                    .filter_map(|(f, _)| f.at_ms)
                    .filter(|&t| t > now)
                    .map(|t| t - now)
                    .min();
                Some(Action::Advance {
                    ms: cap.map_or(ms, |c| ms.min(c)),
                })
            }
            other => other,
        };
        if action.is_some() {
            self.steps += 1;
        }
        Ok(action)
    }

    fn observe(&mut self, world: &World<R>, events: &[Event]) {
        for ev in events {
            if let Event::Sent {
                process,
                xid,
                request,
            } = ev
            {
                self.requests.insert((*process, *xid), request.clone());
            }
            for (f, st) in self.faults.iter().zip(&mut self.state) {
                let Some(on) = &f.on else { continue };
                if st.triggered.is_some() || f.at_ms.is_some_and(|t| world.now_ms() < t) {
                    continue;
                }
                if on.matches(ev, world, &self.requests) {
                    st.seen += 1;
                    if st.seen >= on.nth {
                        st.triggered = Some(self.steps);
                    }
                }
            }
        }
    }
}

/// A scenario's run and verdict.
#[derive(Clone, Debug)]
pub struct Report {
    /// The run (its trace always recorded).
    pub outcome: Outcome,
    /// Each scripted fault's fate, in file order.
    pub fired: Vec<Fired>,
    /// Whether the expectation held.
    pub ok: bool,
    /// Why not, when it did not (one line each).
    pub problems: Vec<String>,
}

impl Report {
    /// The trace text.
    pub fn trace(&self) -> &str {
        self.outcome.text.as_deref().expect("scenarios record")
    }
}

impl Scenario {
    /// Runs the scenario and checks its expectation.
    pub fn run(&self) -> Result<Report, RunError> {
        self.run_with(&recipes::find(&self.recipe)?)
    }

    /// [`Scenario::run`] for a recipe that is not built in (a recipe of your own roles).
    pub fn run_with<R: Role>(&self, recipe: &Recipe<R>) -> Result<Report, RunError> {
        let mut source = Scripted {
            random: Random::new(self.seed, &self.options),
            faults: &self.faults,
            state: vec![Fired::default(); self.faults.len()],
            requests: BTreeMap::new(),
            steps: 0,
            random_faults: self.options.fault_per_mille > 0,
            last_sessions: Vec::new(),
        };
        let outcome = run::run(
            recipe,
            self.options.clone(),
            self.seed,
            false,
            &mut source,
            true,
            false,
        )?;
        let fired = source.state;
        let mut problems = Vec::new();
        let violated: Vec<&str> = outcome
            .end
            .violations
            .iter()
            .map(|v| v.property.as_str())
            .collect();
        match &self.expect {
            Expect::Pass => {
                for v in &outcome.end.violations {
                    problems.push(format!(
                        "expected pass, but violated {:?} at step {}",
                        v.property, v.step
                    ));
                }
                for (f, st) in self.faults.iter().zip(&fired) {
                    if st.step.is_none() {
                        problems.push(format!(
                            "the scripted fault of line {} ({}) {}",
                            f.line,
                            f.about,
                            match st.triggered {
                                Some(s) =>
                                    format!("triggered after step {s} but was never enabled"),
                                None => "never triggered".to_string(),
                            }
                        ));
                    }
                }
            }
            Expect::Violated(name) => {
                if !violated.contains(&name.as_str()) {
                    problems.push(if violated.is_empty() {
                        format!("expected {name:?} to be violated, but no property was")
                    } else {
                        format!(
                            "expected {name:?} to be violated, but the run violated {}",
                            violated
                                .iter()
                                .map(|v| format!("{v:?}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )
                    });
                }
            }
        }
        Ok(Report {
            ok: problems.is_empty(),
            outcome,
            fired,
            problems,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    /// The glob as it was first written: tries every split of the text at each `*`
    /// (exponential on `**a**a**a...b`), kept as the reference the linear one must agree with.
    fn glob_by_backtracking(pattern: &str, text: &str) -> bool {
        fn go(p: &[u8], t: &[u8]) -> bool {
            match p {
                [] => t.is_empty(),
                [b'*', b'*', rest @ ..] => (0..=t.len()).any(|i| go(rest, &t[i..])),
                [b'*', rest @ ..] => {
                    let seg = t.iter().position(|&c| c == b'/').unwrap_or(t.len());
                    (0..=seg).any(|i| go(rest, &t[i..]))
                }
                [b'?', rest @ ..] => !t.is_empty() && t[0] != b'/' && go(rest, &t[1..]),
                [c, rest @ ..] => t.first() == Some(c) && go(rest, &t[1..]),
            }
        }
        go(pattern.as_bytes(), text.as_bytes())
    }

    // Goal: the linear glob gives the old answer on a table of cases covering each token,
    // runs of stars, `/` at the edges, empty pattern and text, and non-ASCII bytes.
    #[test]
    fn the_linear_glob_agrees_with_the_backtracking_one_on_a_table() {
        let cases: [(&str, &str, bool); 32] = [
            ("", "", true),
            ("", "/", false),
            ("/", "", false),
            ("*", "", true),
            ("**", "", true),
            ("?", "", false),
            ("/assign/*", "/assign/w1", true),
            ("/assign/*", "/assign/w1/task-1", false),
            ("/assign/*/*", "/assign/w1/task-1", true),
            ("/assign/**", "/assign/w1/task-1", true),
            ("/assign/**", "/assign/", true),
            ("/assign/**", "/assign", false),
            ("/tasks/task-?.*", "/tasks/task-c.4", true),
            ("/tasks/task-?", "/tasks/task-", false),
            ("/a?b", "/a/b", false),
            ("/a*b", "/a/b", false),
            ("/a**b", "/a/b", true),
            ("/a***b", "/a/x/b", true),
            ("/a****b", "/a/x/y/b", true),
            ("***", "/any/thing", true),
            ("*/*", "a/b", true),
            ("*/*", "a/b/c", false),
            ("**/*", "a/b/c", true),
            ("*/**", "a/b/c", true),
            ("/*", "/", true),
            ("/*/", "//", true),
            ("/?", "/é", false),
            ("/??", "/é", true),
            ("/é*", "/éa", true),
            ("/x*y*z", "/xaybz", true),
            ("/x*y*z", "/xaybzq", false),
            ("**a**a**b", "aaaaab", true),
        ];
        for (pattern, text, expected) in cases {
            assert_eq!(
                glob_by_backtracking(pattern, text),
                expected,
                "the reference on {pattern:?} {text:?}"
            );
            assert_eq!(glob(pattern, text), expected, "{pattern:?} {text:?}");
        }
    }

    // Goal: on thousands of short random patterns and texts over the bytes that matter (`*`,
    // `?`, `/`, two letters), the linear glob and the backtracking one agree.
    #[test]
    fn the_linear_glob_agrees_with_the_backtracking_one_on_random_cases() {
        let mut rng = ChaCha8Rng::seed_from_u64(15);
        let draw = |rng: &mut ChaCha8Rng, alphabet: &[u8], len_max: usize| {
            let len = rng.gen_range(0..=len_max);
            let bytes: Vec<u8> = (0..len)
                .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
                .collect();
            String::from_utf8(bytes).expect("ASCII")
        };
        let mut matched = 0;
        for _ in 0..5000 {
            let pattern = draw(&mut rng, b"**?/ab", 8);
            let text = draw(&mut rng, b"/ab", 8);
            let expected = glob_by_backtracking(&pattern, &text);
            assert_eq!(glob(&pattern, &text), expected, "{pattern:?} {text:?}");
            matched += usize::from(expected);
        }
        // Not vacuous: both answers come up often.
        assert!((250..4750).contains(&matched), "{matched} of 5000 matched");
    }

    // Goal: patterns that take the backtracking glob exponential time (30 `**` before a
    // byte the text lacks, runs of stars) are answered by the linear one (no timing: it
    // must simply return, and right).
    #[test]
    fn thirty_globstars_are_matched_without_backtracking() {
        let text = "/assign/w1/task-0000000001/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        assert!(!glob(&format!("/{}z", "**".repeat(30)), text));
        assert!(!glob(&format!("/{}z", "**/".repeat(30)), text));
        assert!(!glob(&"**a".repeat(30), &"a".repeat(29)));
        assert!(glob(&"**a".repeat(30), &"a".repeat(30)));
        assert!(!glob(&format!("{}b", "*a".repeat(30)), &"a".repeat(60)));
        assert!(glob(&format!("/{}1/**", "**".repeat(30)), text));
    }
}
