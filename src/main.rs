//! The `zksim` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "zksim",
    version,
    about = "Deterministic simulation and model checking of ZooKeeper recipes"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Replay conformance transcripts (recorded from a real ZooKeeper) on the model.
    Conform(zksim::conform_cmd::ConformArgs),
    /// Record conformance transcripts by running scripts against a real ZooKeeper server.
    Record(zksim::recorder::RecordArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Record(args)) => zksim::recorder::run(&args).map(|()| true),
        Some(Command::Conform(args)) => zksim::conform_cmd::run(&args),
        // The built-in default job: check the model against the committed transcripts.
        None => zksim::conform_cmd::run(&zksim::conform_cmd::ConformArgs {
            transcripts: Vec::new(),
            json: false,
        }),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
