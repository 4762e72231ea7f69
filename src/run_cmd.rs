//! `zksim run`: run scenario files (`docs/SCENARIOS.md`) and check their expectations.

use std::path::{Path, PathBuf};

use zksim_sim::plural::{count, noun};
use zksim_sim::scenario;

use crate::exit::CliError;
use crate::say;

/// `zksim run`.
#[derive(Clone, Debug, clap::Args)]
pub struct RunArgs {
    /// Scenario files (`.toml`), or directories whose `*.toml` files are run in name order.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
    /// Write the run's trace here (one scenario only).
    #[arg(long)]
    pub trace: Option<PathBuf>,
}

/// The scenario files named: files as given, directories expanded to their `*.toml`.
fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut inner: Vec<PathBuf> = std::fs::read_dir(p)
                .map_err(|e| format!("{}: {e}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.is_file() && f.extension().is_some_and(|x| x == "toml"))
                .collect();
            inner.sort();
            if inner.is_empty() {
                return Err(format!("{}: no .toml scenario files", p.display()));
            }
            out.extend(inner);
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Runs `zksim run`: every file is read and validated before any runs; prints one line per
/// scenario and, for a failed expectation, what happened and how to reproduce it.
pub fn run_cmd(args: &RunArgs) -> Result<bool, CliError> {
    let files = expand(&args.files)?;
    if args.trace.is_some() && files.len() != 1 {
        return Err(format!("--trace takes one scenario, but {} were given", files.len()).into());
    }
    if let Some(path) = &args.trace {
        let inputs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
        crate::files::check_outputs(&[("--trace", path)], &inputs)?;
    }
    let mut scenarios = Vec::new();
    let mut errors = Vec::new();
    for f in &files {
        match scenario::load(f) {
            Ok(s) => scenarios.push(s),
            Err(e) => errors.push(e),
        }
    }
    if !errors.is_empty() {
        for e in &errors {
            eprintln!("error: {e}");
        }
        return Err(format!(
            "{} of {} {} invalid; nothing was run",
            errors.len(),
            count(files.len(), "scenario file", "scenario files"),
            noun(errors.len(), "is", "are")
        )
        .into());
    }
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let mut failed = 0;
    for (s, file) in scenarios.iter().zip(&files) {
        let report = s.run().map_err(|e| CliError::in_file(file, e))?;
        let end = &report.outcome.end;
        let what = match end.violations.first() {
            None => "passed".to_string(),
            Some(v) => format!("violated {:?} at step {}", v.property, v.step),
        };
        say!(
            "{:<4}  {:<width$}  {what} ({})",
            if report.ok { "ok" } else { "FAIL" },
            s.name,
            count(end.steps, "step", "steps")
        );
        if let Some(path) = &args.trace {
            crate::files::write(path, report.trace())?;
        }
        if !report.ok {
            failed += 1;
            for p in &report.problems {
                say!("      {p}");
            }
            for (f, st) in s.faults.iter().zip(&report.fired) {
                match (st.step, st.time_ms) {
                    (Some(step), Some(ms)) => {
                        say!(
                            "      fault line {}: {}: taken at step {step} ({ms}ms)",
                            f.line,
                            f.about
                        )
                    }
                    _ => say!("      fault line {}: {}: not taken", f.line, f.about),
                }
            }
            let out = trace_name(&s.name);
            say!(
                "      reproduce: zksim run {} --trace {out} && zksim render {out}",
                file.display()
            );
        }
    }
    if scenarios.len() > 1 {
        say!(
            "{} scenarios: {} as expected, {failed} not",
            scenarios.len(),
            scenarios.len() - failed
        );
    }
    Ok(failed == 0)
}

fn trace_name(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    Path::new(&format!("{safe}.jsonl")).display().to_string()
}
