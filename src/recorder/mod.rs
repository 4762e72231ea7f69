//! Records conformance transcripts from a real ZooKeeper server (owned by the recorder work).

use std::path::PathBuf;

/// Arguments of `zksim record`.
#[derive(Clone, Debug, clap::Args)]
pub struct RecordArgs {
    /// Script files to run against the server.
    #[arg(required = true)]
    pub scripts: Vec<PathBuf>,
    /// Directory the recorded transcripts are written to.
    #[arg(long, short = 'o')]
    pub out: PathBuf,
}

/// Runs `zksim record`.
pub fn run(_args: &RecordArgs) -> Result<(), String> {
    Err("the recorder is not built yet".into())
}
