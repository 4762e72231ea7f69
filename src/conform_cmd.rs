//! `zksim conform`: replay recorded transcripts on the model and report mismatches.

use std::path::{Path, PathBuf};

use serde::Serialize;
use zksim_sim::plural::{count, noun};

use crate::conformance::check::{self, Report};
use crate::exit::CliError;

/// Arguments of `zksim conform`.
#[derive(Clone, Debug, clap::Args)]
pub struct ConformArgs {
    /// Transcript files, or directories of them (`*.json`). Default: the committed ones.
    pub transcripts: Vec<PathBuf>,
    /// Print a machine-readable summary instead of text.
    #[arg(long)]
    pub json: bool,
}

/// The committed transcripts, recorded from a real ZooKeeper 3.8.0.
pub const DEFAULT_TRANSCRIPTS: &str = "tests/conformance/transcripts";

/// The committed transcripts: relative to the working directory when run from a checkout,
/// else where this build's sources are.
pub fn default_transcripts() -> PathBuf {
    let here = PathBuf::from(DEFAULT_TRANSCRIPTS);
    if here.is_dir() {
        here
    } else {
        Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_TRANSCRIPTS)
    }
}

/// Totals over a run of `zksim conform`.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Transcripts checked.
    pub transcripts: usize,
    /// Steps checked.
    pub steps: usize,
    /// Steps that matched in every field.
    pub matched: usize,
    /// Steps with a difference.
    pub mismatched: usize,
    /// Per transcript.
    pub reports: Vec<Report>,
}

/// Expands directories into their `*.json` files, sorted, so runs are reproducible.
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let entries = std::fs::read_dir(p).map_err(|e| format!("{}: {e}", p.display()))?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|f| f.extension().is_some_and(|x| x == "json"))
                .collect();
            found.sort();
            files.extend(found);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// Checks every transcript; errors name the file and the place.
pub fn conform(files: &[PathBuf]) -> Result<Summary, String> {
    let mut reports = Vec::new();
    for f in files {
        let t = check::load(f).map_err(|e| e.to_string())?;
        reports.push(check::check(&t, f).map_err(|e| e.to_string())?);
    }
    Ok(Summary {
        transcripts: reports.len(),
        steps: reports.iter().map(|r| r.steps).sum(),
        matched: reports.iter().map(|r| r.matched).sum(),
        mismatched: reports.iter().map(|r| r.mismatched).sum(),
        reports,
    })
}

/// Runs `zksim conform`; `Ok(false)` when any step mismatched.
pub fn run(args: &ConformArgs) -> Result<bool, CliError> {
    let paths = if args.transcripts.is_empty() {
        vec![default_transcripts()]
    } else {
        args.transcripts.clone()
    };
    let files = expand(&paths)?;
    if files.is_empty() {
        return Err(format!("no transcripts found in {}", show(&paths)).into());
    }
    let summary = conform(&files)?;
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?
        );
    } else {
        print_text(&summary);
    }
    Ok(summary.mismatched == 0)
}

fn show(paths: &[PathBuf]) -> String {
    paths
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_text(s: &Summary) {
    for r in &s.reports {
        let verdict = if r.mismatched == 0 { "ok" } else { "MISMATCH" };
        let steps = noun(r.steps, "step", "steps");
        crate::say!("{:<40} {:>4} {steps:<5}  {verdict}", r.name, r.steps);
        for m in &r.mismatches {
            crate::say!("  {}: {m}", file_name(&r.file));
        }
    }
    crate::say!(
        "conformance: {}, {}, {} matched, {} mismatched: {}",
        count(s.transcripts, "transcript", "transcripts"),
        count(s.steps, "step", "steps"),
        s.matched,
        s.mismatched,
        if s.mismatched == 0 {
            "the model agrees with ZooKeeper 3.8.0"
        } else {
            "FAIL"
        }
    );
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(
        || p.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
