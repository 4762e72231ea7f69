//! `zksim shrink`: a failing trace reduced to a smaller one that fails the same property.

use std::path::{Path, PathBuf};

use zksim_sim::plural::count;
use zksim_sim::shrink::{self, Faults, Report};

use crate::exit::CliError;
use crate::files;

/// Arguments of `zksim shrink`.
#[derive(Clone, Debug, clap::Args)]
pub struct ShrinkArgs {
    /// The failing trace (from `zksim simulate --trace` or `zksim check --trace`).
    pub trace: PathBuf,
    /// Where to write the smaller trace (never the input: that is refused).
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
    /// The most candidate traces to replay; the shrink stops there and says so.
    #[arg(long, default_value_t = 3000)]
    pub replays_max: u64,
}

/// Runs `zksim shrink`; errors (exit 2) on bad input or a trace that breaks nothing.
pub fn shrink_cmd(args: &ShrinkArgs) -> Result<bool, CliError> {
    files::check_outputs(&[("-o", &args.output)], &[&args.trace])?;
    let text = files::read_text(&args.trace)?;
    let shrunk =
        shrink::shrink(&text, args.replays_max).map_err(|e| CliError::in_file(&args.trace, e))?;
    files::write(&args.output, &shrunk.text)?;
    print_report(&args.trace, &args.output, &shrunk.report, args.replays_max);
    Ok(true)
}

fn faults_text(f: &Faults) -> String {
    format!(
        "{} (crashes {}, kills {}, disconnects {}, expiries {})",
        f.total(),
        f.crashes,
        f.kills,
        f.disconnects,
        f.expiries
    )
}

fn print_report(input: &Path, output: &Path, r: &Report, replays_max: u64) {
    crate::say!(
        "shrunk {} -> {}: still violates {:?}",
        input.display(),
        output.display(),
        r.property
    );
    let shape = |s: [u32; 4]| {
        format!(
            "{}, {}, {}, {} each",
            count(s[0], "master", "masters"),
            count(s[1], "worker", "workers"),
            count(s[2], "client", "clients"),
            count(s[3], "task", "tasks")
        )
    };
    if r.before.shape != r.after.shape {
        crate::say!("  shape  {}", shape(r.before.shape));
        crate::say!("      -> {}", shape(r.after.shape));
    }
    crate::say!("  steps  {} -> {}", r.before.steps, r.after.steps);
    crate::say!("  faults {}", faults_text(&r.before.faults));
    crate::say!("      -> {}", faults_text(&r.after.faults));
    crate::say!("  {} replayed", count(r.replays, "candidate", "candidates"));
    if r.stopped_early {
        crate::say!(
            "  stopped early: the budget of {} ran out (--replays-max); it may shrink further",
            count(replays_max, "replay", "replays")
        );
    }
}
