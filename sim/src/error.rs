//! The errors of the library, one type per area, each carrying its data as fields: a caller
//! matches on them to tell a bad file from a divergence, and people read their `Display`,
//! which is the message zksim has always printed.
//!
//! - [`InputError`]: an input file that cannot be used (unreadable, not UTF-8, or wrong at a
//!   line of it), naming the file;
//! - [`TraceError`]: trace text that is not a trace, naming its line;
//! - [`UnknownRecipe`]: a recipe name that is not built in, with the known ones;
//! - [`RunError`]: a run that cannot start or go on (options out of range, an unknown
//!   property, an action not enabled);
//! - [`ReplayError`]: a replay that cannot run or comes out otherwise, its [`Divergence`]
//!   naming the first line that differs;
//! - [`ShrinkError`]: a trace that cannot be shrunk;
//! - [`WriteError`]: a file that cannot be written;
//! - [`PlanError`]: a fault plan that cannot be written as a scenario;
//! - [`Error`]: any of them, for a caller that handles them together.
//!
//! ```
//! use zksim_sim::error::{ReplayError, UnknownRecipe};
//!
//! let err: UnknownRecipe = zksim_sim::recipes::find("nope").err().unwrap();
//! assert_eq!(err.name, "nope");
//! assert!(err.known.iter().any(|k| k == "election"));
//! assert!(err.to_string().starts_with("unknown recipe \"nope\" (known: "));
//!
//! // A trace edited after it was recorded replays otherwise: the divergence names its step.
//! let recipe = zksim_sim::recipes::find("election").unwrap();
//! let options = zksim_sim::options::Options::default();
//! let outcome = zksim_sim::run::simulate(&recipe, &options, 7, false, true).unwrap();
//! let text = outcome.text.unwrap();
//! let tampered = text.replacen("\"time_ms\":0", "\"time_ms\":1", 1);
//! match zksim_sim::run::replay(&tampered) {
//!     Err(ReplayError::Diverged(d)) => assert_eq!(d.step, Some(0)),
//!     other => panic!("{other:?}"),
//! }
//! ```

use std::fmt;
use std::path::PathBuf;

use crate::options::Invalid;
use crate::world::NotEnabled;

/// An input file that cannot be used: it cannot be read, is not UTF-8 text, or is wrong at a
/// place in it. Every variant names the file as it was given.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    /// The file could not be read at all (it is missing, a directory, unreadable).
    #[error("{file}: cannot read: {error}")]
    Io {
        /// The file, as given.
        file: String,
        /// Why.
        #[source]
        error: std::io::Error,
    },
    /// Bytes that are not UTF-8.
    #[error(
        "{file}:{line}: invalid UTF-8 at byte offset {offset} ({column} bytes into the line): \
         the file must be UTF-8 text"
    )]
    NotUtf8 {
        /// The file, as given.
        file: String,
        /// The line of the first bad byte (from 1).
        line: usize,
        /// The first bad byte's offset in the file (from 0).
        offset: usize,
        /// Its offset in its line (from 0).
        column: usize,
    },
    /// Text that is wrong at a place: `s.toml:4: unknown action "explode" (known: ...)`.
    #[error("{file}:{line}: {problem}")]
    At {
        /// The file, as given.
        file: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1, in characters).
        column: usize,
        /// What is wrong.
        problem: String,
    },
    /// A scenario naming a recipe that is not built in, at the line of its `recipe`.
    #[error("{file}:{line}: {error}")]
    UnknownRecipe {
        /// The file, as given.
        file: String,
        /// The line (from 1).
        line: usize,
        /// The column (from 1, in characters).
        column: usize,
        /// The name and the known ones.
        error: UnknownRecipe,
    },
    /// Text that is wrong with no place to name (a TOML error without a span).
    #[error("{file}: {problem}")]
    Whole {
        /// The file, as given.
        file: String,
        /// What is wrong.
        problem: String,
    },
}

impl InputError {
    /// What is wrong, without the place: `invalid UTF-8 at byte offset 41 ...`.
    pub fn problem(&self) -> String {
        match self {
            InputError::Io { error, .. } => format!("cannot read: {error}"),
            InputError::NotUtf8 { offset, column, .. } => format!(
                "invalid UTF-8 at byte offset {offset} ({column} bytes into the line): the \
                 file must be UTF-8 text"
            ),
            InputError::At { problem, .. } | InputError::Whole { problem, .. } => problem.clone(),
            InputError::UnknownRecipe { error, .. } => error.to_string(),
        }
    }

    /// The line of the problem, if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            InputError::Io { .. } | InputError::Whole { .. } => None,
            InputError::NotUtf8 { line, .. }
            | InputError::At { line, .. }
            | InputError::UnknownRecipe { line, .. } => Some(*line),
        }
    }

    /// The file, as given.
    pub fn file(&self) -> &str {
        match self {
            InputError::Io { file, .. }
            | InputError::NotUtf8 { file, .. }
            | InputError::At { file, .. }
            | InputError::UnknownRecipe { file, .. }
            | InputError::Whole { file, .. } => file,
        }
    }
}

/// Trace text that is not a trace this build reads; the line (from 1, blank lines counted)
/// is a field of every variant that has one ([`TraceError::line`]).
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// No line at all.
    #[error("line 1: empty trace (no header)")]
    Empty,
    /// The first line is not JSON.
    #[error("line 1: malformed JSON: {0}")]
    MalformedHeader(#[source] serde_json::Error),
    /// The first line is JSON but no trace header.
    #[error("line 1: not a {} header", crate::trace::SCHEMA)]
    NotATrace,
    /// A header of another version (`None` when it has none).
    #[error(
        "line 1: trace version {} is not supported (this build reads version {})",
        .found.map_or("?".to_string(), |v| v.to_string()),
        crate::trace::VERSION
    )]
    Version {
        /// The header's version.
        found: Option<u64>,
    },
    /// A header of this version with fields that do not parse.
    #[error("line 1: bad header: {0}")]
    BadHeader(#[source] serde_json::Error),
    /// Header options out of range, or a shape the recipe has no roles for.
    #[error("line 1: header.options.{0}")]
    Options(#[source] Invalid),
    /// A swarm header whose options are not the ones its seed draws.
    #[error(
        "line 1: header.options.{field} is {here}, but header.swarm is true and seed {seed} \
         draws {drawn}: the header was edited (its seed or its {field})"
    )]
    NotSwarmed {
        /// The first field that differs.
        field: &'static str,
        /// Its value in the header (JSON).
        here: String,
        /// The value the seed draws (JSON).
        drawn: String,
        /// The header's seed.
        seed: u64,
    },
    /// A line after the end line.
    #[error("line {line}: text after the end line")]
    AfterEnd {
        /// The line.
        line: usize,
    },
    /// A step or end line that does not parse.
    #[error("line {line}: {error}")]
    BadLine {
        /// The line.
        line: usize,
        /// Why.
        #[source]
        error: serde_json::Error,
    },
    /// A step line out of order.
    #[error("line {line}: step {found} where step {expected} was expected")]
    OutOfOrder {
        /// The line.
        line: usize,
        /// The step it has.
        found: u64,
        /// The step it should have.
        expected: u64,
    },
    /// A header and no step 0.
    #[error("the trace has no start line (step 0)")]
    NoStart,
}

impl TraceError {
    /// The line of the problem (from 1), if it has one.
    pub fn line(&self) -> Option<usize> {
        match self {
            TraceError::Empty
            | TraceError::MalformedHeader(_)
            | TraceError::NotATrace
            | TraceError::Version { .. }
            | TraceError::BadHeader(_)
            | TraceError::Options(_)
            | TraceError::NotSwarmed { .. } => Some(1),
            TraceError::AfterEnd { line }
            | TraceError::BadLine { line, .. }
            | TraceError::OutOfOrder { line, .. } => Some(*line),
            TraceError::NoStart => None,
        }
    }
}

/// A recipe name that is not built in.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown recipe {name:?} (known: {})", .known.join(", "))]
pub struct UnknownRecipe {
    /// The name asked for.
    pub name: String,
    /// The built-in recipes' names, in their order.
    pub known: Vec<String>,
}

/// A trace of another recipe than the one given to replay or shrink it with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line 1: the trace is of recipe {trace:?}, not {recipe:?}")]
pub struct WrongRecipe {
    /// The recipe the trace's header names.
    pub trace: String,
    /// The recipe given.
    pub recipe: String,
}

/// A run that cannot start or go on.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The run's recipe is not built in.
    #[error(transparent)]
    UnknownRecipe(#[from] UnknownRecipe),
    /// Options out of range (a limit passed), or a shape the recipe has no roles for.
    #[error("options.{0}")]
    Options(#[source] Invalid),
    /// `options.unchecked` names a property the recipe does not have.
    #[error("recipe {recipe} has no property {name:?} (it has: {})", .known.join("; "))]
    UnknownProperty {
        /// The recipe.
        recipe: String,
        /// The name given.
        name: String,
        /// The recipe's properties.
        known: Vec<String>,
    },
    /// The source of actions chose one that is not enabled (a recorded action that does not
    /// fit the world it is replayed on).
    #[error("step {step}: {error}")]
    NotEnabled {
        /// The step it would have been (from 1).
        step: u64,
        /// The action.
        #[source]
        error: NotEnabled,
    },
}

/// Which re-execution of a trace came out otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rerun {
    /// Its recorded actions, taken again.
    Replayed,
    /// The simulator's choices, drawn again from the header's seed and options.
    Drawn,
}

impl fmt::Display for Rerun {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rerun::Replayed => "replayed",
            Rerun::Drawn => "drawn",
        })
    }
}

/// A header field that differs between the recorded trace and its re-execution.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{field}: recorded {recorded}, replayed {replayed}")]
pub struct FieldDifference {
    /// The field's path (`seed`, `options.steps_max`).
    pub field: String,
    /// Its recorded value (JSON, or `(none)`).
    pub recorded: String,
    /// Its value on re-execution (JSON, or `(none)`).
    pub replayed: String,
}

/// How the first line that differs differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Difference {
    /// Both are header lines: the fields that differ.
    Header(Vec<FieldDifference>),
    /// Two lines, in full.
    Line {
        /// The recorded line.
        recorded: String,
        /// The re-executed line.
        other: String,
        /// Which re-execution.
        rerun: Rerun,
    },
    /// One has more lines than the other (each counted without blank lines).
    Length {
        /// The recorded trace's lines.
        recorded: usize,
        /// The re-execution's lines.
        other: usize,
        /// Which re-execution.
        rerun: Rerun,
    },
}

/// A trace that comes out otherwise on re-execution: the first line that differs. Its
/// `Display` is what follows the line's number in the message (a header's fields, or both
/// versions of the line, long ones shortened).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// The line (from 1, blank lines not counted).
    pub line: usize,
    /// The recorded line's step, when it is a step line (0 for the start).
    pub step: Option<u64>,
    /// How it differs.
    pub difference: Difference,
}

impl fmt::Display for Divergence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.difference {
            Difference::Header(fields) => {
                f.write_str(" header ")?;
                for (i, field) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str("; ")?;
                    }
                    write!(f, "{field}")?;
                }
                Ok(())
            }
            Difference::Line {
                recorded,
                other,
                rerun,
            } => {
                let what = rerun.to_string();
                write!(
                    f,
                    "\n  recorded: {}\n  {what}: {}{}",
                    shorten(recorded),
                    " ".repeat("recorded".len().saturating_sub(what.len())),
                    shorten(other)
                )
            }
            Difference::Length {
                recorded,
                other,
                rerun,
            } => write!(
                f,
                "\n  the recorded trace has {recorded} lines, the {rerun} run {other}"
            ),
        }
    }
}

/// A line cut to its first 400 characters, for a message.
fn shorten(line: &str) -> String {
    if line.len() > 400 {
        format!(
            "{}…",
            &line[..line.char_indices().nth(400).map_or(line.len(), |(i, _)| i)]
        )
    } else {
        line.to_string()
    }
}

/// A replay that cannot run, or comes out otherwise than the recording.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    /// The text is not a trace.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace's recipe is not built in.
    #[error(transparent)]
    UnknownRecipe(#[from] UnknownRecipe),
    /// The trace is of another recipe than the one given.
    #[error(transparent)]
    WrongRecipe(#[from] WrongRecipe),
    /// The recipe with the header's options runs other processes than the header names.
    #[error(
        "line 1 differs on replay: header processes: recorded {recorded:?}, but recipe \
         {recipe} with these options runs {runs:?}"
    )]
    Processes {
        /// The processes the header names.
        recorded: Vec<String>,
        /// The recipe.
        recipe: String,
        /// The processes it runs.
        runs: Vec<String>,
    },
    /// A recorded action cannot be taken (or the run cannot start) on this header.
    #[error("{0} (the recorded action cannot be taken on replay of this header)")]
    CannotTake(#[source] RunError),
    /// The recorded actions replay to other lines: the divergence.
    #[error("line {} differs on replay:{0}", .0.line)]
    Diverged(Divergence),
    /// The recorded actions replay alike, but the simulator's choices drawn again from the
    /// header's seed and options differ: the header was edited.
    #[error(
        "line {}: seed {seed} and the header's options draw another run, though the recorded \
         actions replay alike: the header was edited in a field only the simulator's choices \
         read (the seed, fault_per_mille, repair_per_mille, steps_max, liveness_steps_max, a \
         budget, a delay){divergence}",
        .divergence.line
    )]
    Redrawn {
        /// The header's seed.
        seed: u64,
        /// The first line the drawn run differs in.
        divergence: Divergence,
    },
    /// The drawn run could not run.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// A trace that cannot be shrunk.
#[derive(Debug, thiserror::Error)]
pub enum ShrinkError {
    /// The text is not a trace.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace's recipe is not built in.
    #[error("line 1: {0}")]
    UnknownRecipe(#[source] UnknownRecipe),
    /// The trace is of another recipe than the one given.
    #[error(transparent)]
    WrongRecipe(#[from] WrongRecipe),
    /// The trace has no end line.
    #[error("line {line}: the trace is truncated (no end line after step {step})")]
    Truncated {
        /// Its last line.
        line: usize,
        /// Its last step.
        step: u64,
    },
    /// Every property held.
    #[error("the trace breaks no property: there is nothing to shrink (every property held)")]
    NoViolation,
    /// The trace does not replay.
    #[error("the trace does not replay: {0}")]
    DoesNotReplay(#[source] ReplayError),
}

/// A file that cannot be written; nothing was changed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The path exists and is not a regular file.
    #[error("cannot write {}: it is {what}", .path.display())]
    NotRegular {
        /// The path, as given.
        path: PathBuf,
        /// What it is (`a directory`, `not a regular file`).
        what: &'static str,
    },
    /// The path names no file (`..`, `/`).
    #[error("cannot write {}: no file name", .path.display())]
    NoFileName {
        /// The path, as given.
        path: PathBuf,
    },
    /// Creating, writing, syncing or renaming the temporary file failed.
    #[error("cannot write {}: {}", .path.display(), crate::files::cause(.error))]
    Io {
        /// The path, as given (never the temporary file's).
        path: PathBuf,
        /// Why.
        #[source]
        error: std::io::Error,
    },
}

/// A fault plan that cannot be written as a scenario.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The recipe is not built in.
    #[error(transparent)]
    UnknownRecipe(#[from] UnknownRecipe),
    /// The recipe runs no process with the plan's shape.
    #[error("recipe {recipe} runs no process with this shape")]
    NoProcess {
        /// The recipe.
        recipe: String,
    },
}

/// Any error of the library, for a caller that handles them together (the `zksim` command
/// line): each variant is one area's type, shown as it is.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A bad input file.
    #[error(transparent)]
    Input(#[from] InputError),
    /// Text that is not a trace.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// An unknown recipe.
    #[error(transparent)]
    UnknownRecipe(#[from] UnknownRecipe),
    /// A run that cannot start or go on.
    #[error(transparent)]
    Run(#[from] RunError),
    /// A replay that cannot run or diverges.
    #[error(transparent)]
    Replay(#[from] ReplayError),
    /// A trace that cannot be shrunk.
    #[error(transparent)]
    Shrink(#[from] ShrinkError),
    /// A file that cannot be written.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// A plan that cannot be written as a scenario.
    #[error(transparent)]
    Plan(#[from] PlanError),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::options::Options;
    use crate::{recipes, run, scenario, shrink, trace};

    /// A recorded trace of the election, seed 7, as lines.
    fn election_trace() -> Vec<String> {
        let recipe = recipes::find("election").unwrap();
        let outcome = run::simulate(&recipe, &Options::default(), 7, false, true).unwrap();
        outcome.text.unwrap().lines().map(String::from).collect()
    }

    // Goal: a scenario key the format does not have is an input error at its line and column.
    #[test]
    fn a_scenario_with_a_bad_key_names_the_key_s_line() {
        let text = "recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n  bogus = 3\n";
        match scenario::parse(text, "s.toml") {
            Err(InputError::At {
                file,
                line,
                column,
                problem,
            }) => {
                assert_eq!((file.as_str(), line, column), ("s.toml", 4, 3));
                assert!(problem.contains("bogus"), "{problem}");
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: a scenario's unknown recipe is an input error at the recipe's line, worded as
    // `recipes::find` words it.
    #[test]
    fn a_scenario_of_an_unknown_recipe_names_the_recipe_s_line() {
        let text = "seed = 1\nrecipe = \"nope\"\nexpect = \"pass\"\n";
        let err = scenario::parse(text, "s.toml").unwrap_err();
        assert_eq!(err.line(), Some(2));
        assert_eq!(err.file(), "s.toml");
        let unknown = recipes::find("nope").err().unwrap();
        assert_eq!(err.to_string(), format!("s.toml:2: {unknown}"));
        match err {
            InputError::UnknownRecipe {
                line,
                column,
                error,
                ..
            } => assert_eq!((line, column, error), (2, 10, unknown)),
            other => panic!("{other:?}"),
        }
    }

    // Goal: an unknown recipe lists every built-in recipe, in order.
    #[test]
    fn an_unknown_recipe_lists_the_known_ones() {
        let err = recipes::find("nope").err().unwrap();
        let known: Vec<String> = recipes::all().iter().map(|r| r.name.to_string()).collect();
        assert_eq!(
            err,
            UnknownRecipe {
                name: "nope".into(),
                known: known.clone()
            }
        );
        assert_eq!(
            err.to_string(),
            format!("unknown recipe \"nope\" (known: {})", known.join(", "))
        );
    }

    // Goal: a step line edited after recording diverges on replay at that step, with both
    // versions of the line.
    #[test]
    fn a_tampered_step_diverges_at_its_step() {
        let mut lines = election_trace();
        // Line 6 (from 1) is step 4.
        let original = lines[5].clone();
        assert!(original.starts_with("{\"step\":4,"), "{original}");
        lines[5] = original.replacen("\"time_ms\":", "\"time_ms\":9", 1);
        let tampered = lines.join("\n") + "\n";
        match run::replay(&tampered) {
            Err(ReplayError::Diverged(d)) => {
                assert_eq!((d.line, d.step), (6, Some(4)));
                assert_eq!(
                    d.difference,
                    Difference::Line {
                        recorded: lines[5].clone(),
                        other: original,
                        rerun: Rerun::Replayed,
                    }
                );
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: a header edited in a field only the simulator's choices read is told apart from
    // a divergence of the recorded actions.
    #[test]
    fn an_edited_simulator_header_is_redrawn_not_diverged() {
        let mut lines = election_trace();
        let header = lines[0].clone();
        let rate = "\"fault_per_mille\":20,";
        assert!(header.contains(rate), "{header}");
        // Faults at every chance: the recorded actions still replay, the draw is another.
        lines[0] = header.replacen(rate, "\"fault_per_mille\":1000,", 1);
        match run::replay(&(lines.join("\n") + "\n")) {
            Err(ReplayError::Redrawn { seed, divergence }) => {
                assert_eq!(seed, 7);
                assert!(divergence.line >= 2, "{divergence:?}");
                assert_eq!(divergence.step, Some(divergence.line as u64 - 2));
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: a trace's steps out of order are refused naming the line and both steps.
    #[test]
    fn steps_out_of_order_name_the_line() {
        let mut lines = election_trace();
        lines.remove(2);
        match trace::parse(&(lines.join("\n") + "\n")) {
            Err(e @ TraceError::OutOfOrder { .. }) => {
                assert_eq!(e.line(), Some(3));
                assert!(matches!(
                    e,
                    TraceError::OutOfOrder {
                        found: 2,
                        expected: 1,
                        ..
                    }
                ));
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: options naming a property the recipe lacks stop the run before it starts.
    #[test]
    fn an_unknown_unchecked_property_is_a_run_error() {
        let recipe = recipes::find("election").unwrap();
        let options = Options {
            unchecked: vec!["no-such-property".into()],
            ..Options::default()
        };
        match run::simulate(&recipe, &options, 1, false, false) {
            Err(RunError::UnknownProperty {
                recipe,
                name,
                known,
            }) => {
                assert_eq!(
                    (recipe.as_str(), name.as_str()),
                    ("election", "no-such-property")
                );
                assert!(!known.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    // Goal: a trace that breaks nothing is not shrunk, and says so as a variant.
    #[test]
    fn a_passing_trace_has_nothing_to_shrink() {
        let text = election_trace().join("\n") + "\n";
        assert!(matches!(
            shrink::shrink(&text, 10),
            Err(ShrinkError::NoViolation)
        ));
    }

    // Goal: a directory is never written over, and the error says what the path is.
    #[test]
    fn writing_over_a_directory_is_refused_as_not_regular() {
        let dir = std::env::temp_dir();
        match crate::files::write(&dir, "x") {
            Err(WriteError::NotRegular { path, what }) => {
                assert_eq!((path, what), (dir, "a directory"));
            }
            other => panic!("{other:?}"),
        }
    }
}
