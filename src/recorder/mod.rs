//! `zksim record`: runs conformance scripts against a real ZooKeeper server and writes the
//! transcripts (see [`crate::conformance::transcript`] for the format).
//!
//! For every script the recorder starts a fresh standalone server ([`server`]), talks to it with
//! a hand-written synchronous wire client ([`jute`], [`conn`]; the module doc of [`jute`] says
//! why no client library is used), reproduces only the client-side behaviour of the Java
//! client that a transcript depends on ([`record`], keeping its watch tables with the model's
//! [`zksim_model::client::ClientWatches`]), and stops the server again.
//!
//! ## The `jute.maxbuffer` arithmetic (measured on 3.8.0 with `request_size_limit.json`)
//! The server (`NIOServerCnxn.readLength`) reads the 4-byte frame length and closes the
//! connection ("Len error") when it is greater than `jute.maxbuffer` = 1048575 (0xfffff). The
//! length counts everything after the 4 length bytes themselves: the 8-byte `RequestHeader`
//! (xid, type) plus the serialized request. So a request passes iff
//! `8 + body_len <= 1048575`, where for the open ACL (`[31, "world", "anyone"]`, 27 bytes with
//! its vector count):
//! - create: `body = (4 + path) + (4 + data) + 27 + 4` (flags), so the frame is
//!   `47 + path + data`; an 8-byte path allows 1048520 bytes of data;
//! - setData: `body = (4 + path) + (4 + data) + 4` (version), so the frame is
//!   `20 + path + data`; an 8-byte path allows 1048547 bytes of data;
//! - createTTL adds 8 (the TTL), a multi adds a 9-byte `MultiHeader` per op plus 9 for the end
//!   marker; null data counts 4 (the -1 length).
//!
//! One byte more and the server drops the connection without answering: the client sees
//! ConnectionLoss, nothing is applied, no zxid is used, and the session survives.

pub mod conn;
pub mod jute;
pub mod record;
pub mod server;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use zksim_sim::plural::count;

pub use record::{record_transcript, RecordOptions};

use crate::conformance::check::ParseError;
use crate::conformance::transcript::Transcript;
use crate::exit::CliError;

/// Arguments of `zksim record`.
#[derive(Clone, Debug, clap::Args)]
pub struct RecordArgs {
    /// Script files to run against the server.
    #[arg(required = true)]
    pub scripts: Vec<PathBuf>,
    /// Directory the recorded transcripts are written to.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
    /// Class path of the ZooKeeper server [default: /usr/share/java/zookeeper.jar plus
    /// slf4j-nop.jar if present, else slf4j-simple.jar].
    #[arg(long)]
    pub zk_classpath: Option<String>,
    /// The java executable.
    #[arg(long, default_value = "java")]
    pub java: String,
    /// Seconds to wait for each server to start.
    #[arg(long, default_value_t = 30)]
    pub start_timeout_secs: u64,
}

/// Runs `zksim record`: one fresh server per script, one transcript per script written to
/// `--out` under the script's file name. A script that fails is reported (file, step, problem)
/// and leaves no transcript behind; the others are still recorded.
pub fn run(args: &RecordArgs) -> Result<(), CliError> {
    check_transcript_paths(args)?;
    let opts = RecordOptions {
        java: args.java.clone(),
        classpath: args
            .zk_classpath
            .clone()
            .unwrap_or_else(server::default_classpath),
        start_timeout: Duration::from_secs(args.start_timeout_secs),
    };
    std::fs::create_dir_all(&args.out)
        .map_err(|e| format!("cannot create {}: {e}", args.out.display()))?;
    let mut failures = Vec::new();
    for script in &args.scripts {
        // Each error names the script (and, for one that is not UTF-8, its line).
        if let Err(e) = record_file(script, &transcript_path(script, &args.out)?, &opts) {
            // Interrupted: the server it waited on was killed by the cleanup; no failure.
            crate::interrupt::defer_to_handler();
            eprintln!("FAILED {e}");
            failures.push(e);
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "{} of {} failed to record:\n{}",
            failures.len(),
            count(args.scripts.len(), "script", "scripts"),
            failures.join("\n")
        )
        .into())
    }
}

/// Where a script's transcript goes: `--out` joined with the script's file name.
fn transcript_path(script: &Path, out_dir: &Path) -> Result<PathBuf, String> {
    let name = script
        .file_name()
        .ok_or_else(|| format!("{}: the script path has no file name", script.display()))?;
    Ok(out_dir.join(name))
}

/// Refuses, before any server starts, a transcript that would replace one of the scripts
/// (`record dir/x.json -o dir`), something that is not a regular file, or another script's
/// transcript (two scripts of one file name).
fn check_transcript_paths(args: &RecordArgs) -> Result<(), String> {
    let flag = format!("-o {}", args.out.display());
    let targets = args
        .scripts
        .iter()
        .map(|s| transcript_path(s, &args.out))
        .collect::<Result<Vec<_>, _>>()?;
    let outputs: Vec<(&str, &Path)> = targets
        .iter()
        .map(|t| (flag.as_str(), t.as_path()))
        .collect();
    let inputs: Vec<&Path> = args.scripts.iter().map(PathBuf::as_path).collect();
    crate::files::check_outputs(&outputs, &inputs)
}

// the recorder talks to a real server in real time
#[allow(clippy::disallowed_methods)]
fn record_file(script: &Path, out: &Path, opts: &RecordOptions) -> Result<(), String> {
    let started = Instant::now();
    let text = crate::files::read_text(script).map_err(|e| e.to_string())?;
    let at = |e: String| format!("{}: {e}", script.display());
    let parsed = parse_script(&text).map_err(|e| match e.line {
        Some(line) => format!(
            "{}:{line}: not a valid script: {}",
            script.display(),
            e.problem
        ),
        None => at(format!("not a valid script: {}", e.problem)),
    })?;
    let recorded = record_transcript(&parsed, opts).map_err(at)?;
    let mut json = serde_json::to_string_pretty(&recorded)
        .map_err(|e| at(format!("cannot serialize the transcript: {e}")))?;
    json.push('\n');
    crate::files::write(out, json).map_err(|e| at(e.to_string()))?;
    crate::say!(
        "recorded {} ({}) in {:.1} s",
        recorded.name,
        count(recorded.steps.len(), "step", "steps"),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Reads a script (or a transcript) from JSON, as `zksim conform` reads a transcript.
pub fn parse_script(text: &str) -> Result<Transcript, ParseError> {
    crate::conformance::check::parse_at(text)
}
