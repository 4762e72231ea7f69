//! Traces: a run as JSON lines (schema `zksim-trace`, version 1).
//!
//! ```text
//! {"header":{"schema":"zksim-trace","version":2,"recipe":"election","seed":7,"swarm":false,"policy":"simulator","options":{...},"processes":["c1","c2","c3"]}}
//! {"step":0,"time_ms":0,"events":[...]}                       <- the processes' start
//! {"step":1,"time_ms":0,"action":{"action":"to_server","process":0},"events":[...]}
//! ...
//! {"end":{"steps":812,"events":2301,"violations":[],"reached":[...],"unreached":[],"quiescent":true}}
//! ```
//!
//! The header holds everything needed to rebuild the world (recipe, seed, options); each step
//! line holds the action taken and every event it produced (requests, replies, watch and
//! session events, znode changes with zxids, role log lines); the end line holds the verdict.
//! The same seed and options give the same bytes on any machine.

use serde::{Deserialize, Serialize};

use crate::action::Action;
use crate::error::TraceError;
use crate::event::Event;
use crate::options::Options;

/// The schema name in every header.
pub const SCHEMA: &str = "zksim-trace";
/// The version this build reads and writes.
pub const VERSION: u32 = 2;

/// The first line.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// [`VERSION`].
    pub version: u32,
    /// The recipe's name.
    pub recipe: String,
    /// The run's seed.
    pub seed: u64,
    /// Whether the fault knobs of the options were drawn from the seed (`--swarm`,
    /// [`Options::swarmed`]); a reader refuses a header whose options are not that draw.
    pub swarm: bool,
    /// How the actions were chosen: [`Policy::Simulator`] when the seeded simulator drew
    /// every one from the seed and options (`zksim simulate`), so a replay draws them again
    /// and a header edited to other values fails; absent when they were given (an explorer's
    /// counterexample, a shrunk trace, a scenario's script, a trace of an older build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<Policy>,
    /// The options in force.
    pub options: Options,
    /// Process names, by index.
    pub processes: Vec<String>,
}

/// Who chose a trace's actions, when they follow from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Policy {
    /// The seeded simulator (`run::simulate`): every action follows from the seed and the
    /// options (`fault_per_mille`, `repair_per_mille`, the phase lengths, the budgets ...).
    Simulator,
}

/// One step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepLine {
    /// 0 for the start, then 1, 2, ...
    pub step: u64,
    /// Virtual time after the step.
    pub time_ms: u64,
    /// The action (none for the start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<Action>,
    /// What it did.
    pub events: Vec<Event>,
}

/// A property that failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Violation {
    /// The property's name.
    pub property: String,
    /// The step after which it failed (for a liveness property, the last step).
    pub step: u64,
}

/// The last line: the verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct End {
    /// Steps taken: actions, the start (step 0) not counted ([`Trace::steps_taken`]).
    pub steps: u64,
    /// Events produced.
    pub events: u64,
    /// Properties that failed (a safety violation ends the run).
    pub violations: Vec<Violation>,
    /// Sometimes-properties reached.
    pub reached: Vec<String>,
    /// Sometimes-properties never reached.
    pub unreached: Vec<String>,
    /// Whether the liveness phase ended with nothing left to do (rather than at its bound).
    pub quiescent: bool,
}

/// A whole trace, parsed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Trace {
    /// The header.
    pub header: Header,
    /// The steps, the start first.
    pub steps: Vec<StepLine>,
    /// The verdict, if the trace is complete.
    pub end: Option<End>,
}

impl Trace {
    /// The steps taken: every step line but the start. Step 0 is the world as built, before
    /// any action, so a trace of steps 0 to N took N steps. This is the one count every
    /// command reports (`simulate`, `replay`, `diff`, `render`, the page) and the end line's
    /// `steps`.
    pub fn steps_taken(&self) -> u64 {
        (self.steps.len() as u64).saturating_sub(1)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HeaderLine {
    header: Header,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EndLine {
    end: End,
}

/// The header line.
pub fn header_line(h: &Header) -> String {
    serde_json::to_string(&HeaderLine { header: h.clone() }).expect("serializable")
}

/// A step line.
pub fn step_line(s: &StepLine) -> String {
    serde_json::to_string(s).expect("serializable")
}

/// The end line.
pub fn end_line(e: &End) -> String {
    serde_json::to_string(&EndLine { end: e.clone() }).expect("serializable")
}

/// Parses trace text; errors name the line (1-based) and the problem.
pub fn parse(text: &str) -> Result<Trace, TraceError> {
    let mut lines = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty());
    let (_, first) = lines.next().ok_or(TraceError::Empty)?;
    let probe: serde_json::Value =
        serde_json::from_str(first).map_err(TraceError::MalformedHeader)?;
    let schema = probe.pointer("/header/schema").and_then(|v| v.as_str());
    if schema != Some(SCHEMA) {
        return Err(TraceError::NotATrace);
    }
    let version = probe.pointer("/header/version").and_then(|v| v.as_u64());
    if version != Some(u64::from(VERSION)) {
        return Err(TraceError::Version { found: version });
    }
    let header = serde_json::from_str::<HeaderLine>(first)
        .map_err(TraceError::BadHeader)?
        .header;
    // A header out of range would build a world of a billion processes, or run for ever.
    crate::recipes::validate(&header.recipe, &header.options).map_err(TraceError::Options)?;
    if header.swarm {
        if let Some((field, here, drawn)) = header.options.not_swarmed(header.seed) {
            return Err(TraceError::NotSwarmed {
                field,
                here,
                drawn,
                seed: header.seed,
            });
        }
    }
    let mut steps = Vec::new();
    let mut end = None;
    for (i, line) in lines {
        let n = i + 1;
        if end.is_some() {
            return Err(TraceError::AfterEnd { line: n });
        }
        let bad = |error| TraceError::BadLine { line: n, error };
        if line.starts_with("{\"end\"") {
            end = Some(serde_json::from_str::<EndLine>(line).map_err(bad)?.end);
            continue;
        }
        let step: StepLine = serde_json::from_str(line).map_err(bad)?;
        if step.step != steps.len() as u64 {
            return Err(TraceError::OutOfOrder {
                line: n,
                found: step.step,
                expected: steps.len() as u64,
            });
        }
        steps.push(step);
    }
    if steps.is_empty() {
        return Err(TraceError::NoStart);
    }
    Ok(Trace { header, steps, end })
}
