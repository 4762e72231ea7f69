//! Replays a recorded transcript on the model and reports every step that differs.
//!
//! A `send_then_disconnect` step is a fork: the request may have been applied by the server
//! (only its reply was lost) or not. The model runs the rest of the transcript down both
//! branches and the transcript matches if one of them does; the report names the branch taken.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::harness::{Fate, Harness, InFlight, ScriptError, Stepped};
use super::transcript::{Expect, Step, StepAction, Transcript, SCHEMA};

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
    /// Where the matching branch had the server's clock expire each session.
    pub expiries: Vec<Expiry>,
}

/// A session the server expired by its clock, and the step whose observation shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Expiry {
    /// 0-based step index: the wait it expired during, or the step it expired just before (or,
    /// a request, just after its reply).
    pub step: usize,
    /// The session's name.
    pub session: String,
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

/// A problem of a transcript's or script's text, with its line when it is known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// The 1-based line of the problem: where the step at fault begins, or where the JSON
    /// parser stopped.
    pub line: Option<usize>,
    /// What is wrong (with the step index when a step is at fault).
    pub problem: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "line {line}: {}", self.problem),
            None => write!(f, "{}", self.problem),
        }
    }
}

/// Reads and checks the shape of a recorded transcript.
pub fn load(file: &Path) -> Result<Transcript, LoadError> {
    let err = |line, problem| LoadError {
        file: file.to_path_buf(),
        line,
        problem,
    };
    let text = crate::files::read_text(file).map_err(|e| err(e.line(), e.problem()))?;
    parse_recorded_at(&text).map_err(|e| err(e.line, e.problem))
}

/// Parses a recorded transcript: [`parse`], and every step has its `expect` (a script is
/// refused, naming its first step without one).
pub fn parse_recorded(text: &str) -> Result<Transcript, String> {
    parse_recorded_at(text).map_err(|e| e.to_string())
}

fn parse_recorded_at(text: &str) -> Result<Transcript, ParseError> {
    let t = parse_at(text)?;
    if let Some(i) = t.steps.iter().position(|s| s.expect.is_none()) {
        return Err(ParseError {
            line: step_lines(text).get(i).copied(),
            problem: format!(
                "step {i} has no `expect`: this is a script, record it first (zksim record)"
            ),
        });
    }
    Ok(t)
}

/// Parses a transcript or script from JSON text, naming the line (and the step) of a
/// problem.
pub fn parse(text: &str) -> Result<Transcript, String> {
    parse_at(text).map_err(|e| e.to_string())
}

/// [`parse`], keeping the line apart from the problem.
pub fn parse_at(text: &str) -> Result<Transcript, ParseError> {
    let unplaced = |problem| ParseError {
        line: None,
        problem,
    };
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
        unplaced(format!(
            "malformed JSON at line {}, column {}: {e}",
            e.line(),
            e.column()
        ))
    })?;
    if let Some(schema) = value.get("schema").and_then(serde_json::Value::as_u64) {
        if schema != u64::from(SCHEMA) {
            return Err(unplaced(format!(
                "schema {schema} is not supported (this build reads {SCHEMA})"
            )));
        }
    }
    // Each step on its own first, so a problem in one is named by its index and line.
    let steps = raw_steps(text);
    for (i, (line, raw)) in steps.iter().enumerate() {
        // (A step is read through a flattened enum, which sees the whole object before it
        // can object: the parser's own position is the step's end, so the step's first line
        // is named instead.)
        serde_json::from_str::<Step>(raw).map_err(|e| ParseError {
            line: Some(*line),
            problem: format!("step {i}: {}", without_position(&e)),
        })?;
    }
    let t: Transcript = serde_json::from_str(text).map_err(|e| ParseError {
        line: Some(e.line()),
        problem: format!("invalid transcript: {}", without_position(&e)),
    })?;
    t.check_bounds().map_err(|(step, problem)| match step {
        Some(i) => ParseError {
            line: steps.get(i).map(|(line, _)| *line),
            problem: format!("step {i}: {problem}"),
        },
        None => unplaced(problem),
    })?;
    Ok(t)
}

/// The steps of a transcript's text, each with the line it begins on; empty when there is no
/// `steps` array.
fn raw_steps(text: &str) -> Vec<(usize, &str)> {
    #[derive(serde::Deserialize)]
    struct Steps<'a> {
        #[serde(borrow, default)]
        steps: Option<Vec<&'a serde_json::value::RawValue>>,
    }
    let Ok(Steps { steps: Some(steps) }) = serde_json::from_str::<Steps<'_>>(text) else {
        return Vec::new();
    };
    steps
        .into_iter()
        .map(|raw| {
            let raw = raw.get();
            // A raw value borrows its bytes from `text`.
            let offset = raw.as_ptr() as usize - text.as_ptr() as usize;
            (1 + text[..offset].matches('\n').count(), raw)
        })
        .collect()
}

/// The line each step begins on.
fn step_lines(text: &str) -> Vec<usize> {
    raw_steps(text).into_iter().map(|(line, _)| line).collect()
}

/// A JSON error's message without the " at line L column C" serde_json ends it with (the
/// caller names the place itself).
fn without_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rsplit_once(" at line ") {
        Some((message, _)) if e.line() > 0 => message.to_string(),
        _ => text,
    }
}

/// At most this many model steps for one transcript, over every branch the checker tries:
/// a transcript that leaves more open is refused rather than checked for ever.
pub const STEPS_TRIED_MAX: usize = 200_000;

/// Replays a transcript on the model.
pub fn check(t: &Transcript, file: &Path) -> Result<Report, LoadError> {
    let mut search = Search {
        best: usize::MAX,
        steps_left: STEPS_TRIED_MAX,
    };
    let run = explore(Harness::new(t.tick_ms), t, 0, 0, &mut search)
        .and_then(|run| run.ok_or_else(|| ScriptError("no way to run the steps".into())))
        .map_err(|ScriptError(problem)| LoadError {
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
        expiries: run.expiries,
    })
}

#[derive(Default)]
struct Run {
    mismatches: Vec<Mismatch>,
    applied: Vec<bool>,
    expiries: Vec<Expiry>,
}

impl Run {
    /// Fewer differing fields is better; then a later first difference.
    fn better_than(&self, other: &Run) -> bool {
        let first = |r: &Run| r.mismatches.first().map_or(usize::MAX, |m| m.step);
        (self.mismatches.len(), std::cmp::Reverse(first(self)))
            < (other.mismatches.len(), std::cmp::Reverse(first(other)))
    }

    /// `rest` after this one's steps.
    fn then(mut self, rest: Run) -> Run {
        self.mismatches.extend(rest.mismatches);
        self.applied.extend(rest.applied);
        self.expiries.extend(rest.expiries);
        self
    }
}

/// The state of the search over the ways a transcript may have gone.
struct Search {
    /// The fewest differing fields of a whole run found so far: a branch with more is given
    /// up.
    best: usize,
    /// Model steps the search may still take ([`STEPS_TRIED_MAX`]).
    steps_left: usize,
}

/// Runs steps `from..` of `t` on `h`, `so_far` fields already differing. At a step with more
/// than one fate (an in-flight request, sessions that may expire) every fate is tried down
/// to the end and the best run is kept; a fate the script cannot follow (a ScriptError, such
/// as expiring a session the clock expired already) is a way it did not go. `Ok(None)`: every
/// way was given up as worse than one found before.
fn explore(
    mut h: Harness,
    t: &Transcript,
    from: usize,
    so_far: usize,
    search: &mut Search,
) -> Result<Option<Run>, ScriptError> {
    let mut run = Run::default();
    for (i, step) in t.steps.iter().enumerate().skip(from) {
        let fates = h
            .fates(&step.action, step.expect.as_ref())
            .map_err(|e| at(i, e))?;
        search.steps_left = search.steps_left.checked_sub(fates.len()).ok_or_else(|| {
            ScriptError(format!(
                "step {i}: the transcript leaves more ways open (requests in flight, sessions \
                 that may expire) than the {STEPS_TRIED_MAX} model steps the checker tries"
            ))
        })?;
        if let [fate] = fates.as_slice() {
            let got = h.step(&step.action, fate).map_err(|e| at(i, e))?;
            run.take(i, step, fate, got);
            if so_far + run.mismatches.len() > search.best {
                return Ok(None);
            }
            continue;
        }
        let mut best: Option<Run> = None;
        let mut refused = None;
        for fate in &fates {
            let mut branch = h.clone();
            let got = match branch.step(&step.action, fate) {
                Ok(got) => got,
                Err(e) => {
                    refused.get_or_insert(at(i, e));
                    continue;
                }
            };
            let mut here = Run::default();
            here.take(i, step, fate, got);
            let before = so_far + run.mismatches.len() + here.mismatches.len();
            if before > search.best {
                continue;
            }
            let rest = match explore(branch, t, i + 1, before, search) {
                Ok(Some(rest)) => rest,
                Ok(None) => continue,
                Err(e) => {
                    refused.get_or_insert(e);
                    continue;
                }
            };
            let whole = here.then(rest);
            if best.as_ref().is_none_or(|b| whole.better_than(b)) {
                best = Some(whole);
            }
        }
        return match (best, refused) {
            (Some(b), _) => Ok(Some(run.then(b))),
            (None, Some(e)) if search.best == usize::MAX => Err(e),
            (None, _) => Ok(None),
        };
    }
    search.best = search.best.min(so_far + run.mismatches.len());
    Ok(Some(run))
}

impl Run {
    /// Adds step `i`'s outcome under `fate`: its differences, the in-flight request's fate,
    /// the sessions the clock expired.
    fn take(&mut self, i: usize, step: &Step, fate: &Fate, got: Stepped) {
        self.mismatches
            .extend(compare(i, &step.action, step.expect.as_ref(), &got.expect));
        if matches!(step.action, StepAction::SendThenDisconnect { .. }) {
            self.applied.push(fate.in_flight == InFlight::Applied);
        }
        self.expiries.extend(
            got.expired
                .into_iter()
                .map(|session| Expiry { step: i, session }),
        );
    }
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
