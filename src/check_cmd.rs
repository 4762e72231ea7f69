//! `zksim check`: exhaustive exploration of a recipe within bounds (first slice).

use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use zksim_sim::explore::{self, Limits};
use zksim_sim::options::TimeMode;
use zksim_sim::{recipes, run};

use crate::sim_cmd::{write_atomically, Knobs};

/// Arguments of `zksim check`.
#[derive(Clone, Debug, clap::Args)]
pub struct CheckArgs {
    /// The recipe.
    #[arg(long, default_value = "election")]
    pub recipe: String,
    /// Distinct states to visit at most.
    #[arg(long, default_value_t = 2_000_000)]
    pub states_max: u64,
    /// Depth to explore at most.
    #[arg(long, default_value_t = 1000)]
    pub depth_max: u32,
    /// Write the counterexample, if any, as a trace to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print a machine-readable summary.
    #[arg(long)]
    pub json: bool,
    /// The fault budgets and other knobs (time is always abstract here).
    #[command(flatten)]
    pub knobs: Knobs,
}

/// `zksim check --json`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// The recipe.
    pub recipe: String,
    /// `verified`, `violated` or `incomplete`.
    pub verdict: &'static str,
    /// The property violated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Length of the counterexample.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub counterexample_steps: Option<usize>,
    /// Distinct states.
    pub states: u64,
    /// Transitions.
    pub transitions: u64,
    /// Deepest level.
    pub depth: u32,
    /// Wall time.
    pub seconds: f64,
    /// Distinct states per second.
    pub states_per_s: f64,
}

/// Runs `zksim check`; `Ok(false)` on a violation.
// It times the search; nothing explored depends on the clock.
#[allow(clippy::disallowed_methods)]
pub fn check(args: &CheckArgs) -> Result<bool, String> {
    let recipe = recipes::find(&args.recipe)?;
    let mut options = args.knobs.options();
    options.time = TimeMode::Abstract;
    let roles = (recipe.processes)(&options, 0);
    let limits = Limits {
        states_max: args.states_max,
        depth_max: args.depth_max,
    };
    let start = Instant::now();
    let report = explore::explore(roles, &options, &(recipe.properties)(), &limits);
    let seconds = start.elapsed().as_secs_f64();
    let verdict = match (&report.violation, report.complete) {
        (Some(_), _) => "violated",
        (None, true) => "verified",
        (None, false) => "incomplete",
    };
    if let (Some(v), Some(path)) = (&report.violation, &args.trace) {
        let outcome = run::run_actions(&recipe, &options, 0, v.path.clone())?;
        write_atomically(path, outcome.text.as_deref().unwrap_or_default())?;
    }
    let summary = Summary {
        recipe: recipe.name.into(),
        verdict,
        property: report.violation.as_ref().map(|v| v.property.clone()),
        counterexample_steps: report.violation.as_ref().map(|v| v.path.len()),
        states: report.states,
        transitions: report.transitions,
        depth: report.depth,
        seconds,
        states_per_s: report.states as f64 / seconds.max(1e-9),
    };
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
        );
    } else {
        crate::say!(
            "check {}: {} ({} states, {} transitions, depth {}, {:.2} s, {:.0} states/s)",
            summary.recipe,
            verdict,
            summary.states,
            summary.transitions,
            summary.depth,
            seconds,
            summary.states_per_s
        );
        if let Some(v) = &report.violation {
            crate::say!("  violated {:?} after {} steps", v.property, v.path.len());
            if args.trace.is_none() {
                crate::say!(
                    "  add --trace FILE to write the counterexample, then zksim render FILE"
                );
            }
        }
    }
    Ok(report.violation.is_none())
}
