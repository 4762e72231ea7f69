//! Replays a recorded transcript on the model and reports every step that differs.
//!
//! A `send_then_disconnect` step is a fork: the request may have been applied by the server
//! (only its reply was lost) or not. The model runs the rest of the transcript down both
//! branches and the transcript matches if one of them does; the report names the branch taken.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::harness::{Harness, InFlight, ScriptError};
use super::transcript::{Expect, StepAction, Transcript, SCHEMA};

/// One field of one step that differs.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mismatch {
    /// 0-based step index.
    pub step: usize,
    /// What the step did, as JSON.
    pub action: String,
    /// Which part of the observation differs (`reply`, `zxid`, `events.b`, ...).
    pub field: String,
    /// What the real server did, as JSON.
    pub expected: String,
    /// What the model did, as JSON.
    pub actual: String,
}

impl fmt::Display for Mismatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}: {}\n  {}: expected {}\n  {}  actual   {}",
            self.step,
            self.action,
            self.field,
            self.expected,
            " ".repeat(self.field.len()),
            self.actual
        )
    }
}

/// The outcome of one transcript.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    /// The transcript's name.
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Number of steps.
    pub steps: usize,
    /// Steps whose every field matched.
    pub matched: usize,
    /// Steps with at least one differing field.
    pub mismatched: usize,
    /// The differences, step by step.
    pub mismatches: Vec<Mismatch>,
    /// For each `send_then_disconnect`, in order, whether the matching branch had the server
    /// apply the request.
    pub in_flight_applied: Vec<bool>,
}

/// A transcript that cannot be checked at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// The file.
    pub file: PathBuf,
    /// The line, for a problem of the file's bytes (text that is not UTF-8).
    pub line: Option<usize>,
    /// What is wrong, with the place (line and column, or step index).
    pub problem: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file.display(), self.problem),
            None => write!(f, "{}: {}", self.file.display(), self.problem),
        }
    }
}

impl std::error::Error for LoadError {}

/// Reads and checks the shape of a recorded transcript.
pub fn load(file: &Path) -> Result<Transcript, LoadError> {
    let err = |problem: String| LoadError {
        file: file.to_path_buf(),
        line: None,
        problem,
    };
    let text = crate::files::read_text(file).map_err(|e| LoadError {
        line: e.line(),
        ..err(e.problem())
    })?;
    parse_recorded(&text).map_err(err)
}

/// Parses a recorded transcript: [`parse`], and every step has its `expect` (a script is
/// refused, naming its first step without one).
pub fn parse_recorded(text: &str) -> Result<Transcript, String> {
    let t = parse(text)?;
    if let Some(i) = t.steps.iter().position(|s| s.expect.is_none()) {
        return Err(format!(
            "step {i} has no `expect`: this is a script, record it first (zksim record)"
        ));
    }
    Ok(t)
}

/// Parses a transcript or script from JSON text, naming the line and column of a problem.
pub fn parse(text: &str) -> Result<Transcript, String> {
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    if let Some(schema) = value.get("schema").and_then(serde_json::Value::as_u64) {
        if schema != u64::from(SCHEMA) {
            return Err(format!(
                "schema {schema} is not supported (this build reads {SCHEMA})"
            ));
        }
    }
    if let Some(steps) = value.get("steps").and_then(serde_json::Value::as_array) {
        for (i, step) in steps.iter().enumerate() {
            serde_json::from_value::<super::transcript::Step>(step.clone())
                .map_err(|e| format!("step {i}: {e}"))?;
        }
    }
    let t: Transcript = serde_json::from_str(text).map_err(|e| {
        format!(
            "invalid transcript at line {}, column {}: {e}",
            e.line(),
            e.column()
        )
    })?;
    t.validate()?;
    Ok(t)
}

/// Replays a transcript on the model.
pub fn check(t: &Transcript, file: &Path) -> Result<Report, LoadError> {
    let run = explore(Harness::new(t.tick_ms), t, 0).map_err(|ScriptError(problem)| LoadError {
        file: file.to_path_buf(),
        line: None,
        problem,
    })?;
    let mismatched = {
        let mut steps: Vec<usize> = run.mismatches.iter().map(|m| m.step).collect();
        steps.dedup();
        steps.len()
    };
    Ok(Report {
        name: t.name.clone(),
        file: file.to_path_buf(),
        steps: t.steps.len(),
        matched: t.steps.len() - mismatched,
        mismatched,
        mismatches: run.mismatches,
        in_flight_applied: run.applied,
    })
}

#[derive(Default)]
struct Run {
    mismatches: Vec<Mismatch>,
    applied: Vec<bool>,
}

impl Run {
    /// Fewer differing fields is better; then a later first difference.
    fn better_than(&self, other: &Run) -> bool {
        let first = |r: &Run| r.mismatches.first().map_or(usize::MAX, |m| m.step);
        (self.mismatches.len(), std::cmp::Reverse(first(self)))
            < (other.mismatches.len(), std::cmp::Reverse(first(other)))
    }
}

fn explore(mut h: Harness, t: &Transcript, from: usize) -> Result<Run, ScriptError> {
    let mut run = Run::default();
    for (i, step) in t.steps.iter().enumerate().skip(from) {
        if let StepAction::SendThenDisconnect { .. } = step.action {
            let mut best: Option<Run> = None;
            for fate in [InFlight::Applied, InFlight::Lost] {
                let mut branch = h.clone();
                let got = branch.step(&step.action, fate).map_err(|e| at(i, e))?;
                let mut rest = explore(branch, t, i + 1)?;
                let mut here = compare(i, &step.action, step.expect.as_ref(), &got);
                here.append(&mut rest.mismatches);
                rest.mismatches = here;
                rest.applied.insert(0, fate == InFlight::Applied);
                if best.as_ref().is_none_or(|b| rest.better_than(b)) {
                    best = Some(rest);
                }
            }
            let best = best.expect("two branches");
            run.mismatches.extend(best.mismatches);
            run.applied.extend(best.applied);
            return Ok(run);
        }
        let got = h
            .step(&step.action, InFlight::Applied)
            .map_err(|e| at(i, e))?;
        run.mismatches
            .extend(compare(i, &step.action, step.expect.as_ref(), &got));
    }
    Ok(run)
}

fn at(step: usize, ScriptError(problem): ScriptError) -> ScriptError {
    ScriptError(format!("step {step}: {problem}"))
}

fn json<T: Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_else(|e| format!("<unserializable: {e}>"))
}

/// Field-by-field comparison of a recorded observation with the model's.
fn compare(
    step: usize,
    action: &StepAction,
    expected: Option<&Expect>,
    actual: &Expect,
) -> Vec<Mismatch> {
    let Some(expected) = expected else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut field = |name: String, e: String, a: String| {
        if e != a {
            out.push(Mismatch {
                step,
                action: json(action),
                field: name,
                expected: e,
                actual: a,
            });
        }
    };
    field("reply".into(), json(&expected.reply), json(&actual.reply));
    field("zxid".into(), json(&expected.zxid), json(&actual.zxid));
    field(
        "negotiated_timeout_ms".into(),
        json(&expected.negotiated_timeout_ms),
        json(&actual.negotiated_timeout_ms),
    );
    let sessions: std::collections::BTreeSet<&String> =
        expected.events.keys().chain(actual.events.keys()).collect();
    for s in sessions {
        field(
            format!("events.{s}"),
            json(&expected.events.get(s)),
            json(&actual.events.get(s)),
        );
    }
    field(
        "before_reply".into(),
        json(&expected.before_reply),
        json(&actual.before_reply),
    );
    out
}
