//! The `zksim` command line.

use clap::{Parser, Subcommand};
use std::process::ExitCode;
use zksim::exit::{exit, passed, CliError};

// mimalloc: the explorer clones and drops whole worlds on several threads (a world made on
// one thread is freed on another), where it is much faster than the system allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "zksim",
    version,
    about = "Deterministic simulation and model checking of ZooKeeper recipes",
    long_about = "Deterministic simulation and model checking of ZooKeeper recipes.\n\nWith no \
                  subcommand: replay the committed conformance transcripts on the model, \
                  simulate the master/worker cluster under a thousand seeds of swarm faults, \
                  and check it exhaustively with two masters, a worker, a client and one kill."
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
    /// Run traces' server side on a real ZooKeeper and compare every answer with the model's
    /// (exit 0 confirmed, 1 a divergence, 2 bad input).
    Confirm(zksim::confirm_cmd::ConfirmArgs),
    /// Run a recipe under seeded faults and check its properties.
    Simulate(zksim::sim_cmd::SimulateArgs),
    /// Add up the --json summaries of a range's shards (`simulate --shard I/N`) into the
    /// summary one run over the whole range prints (exit 0 no failure, 1 failures, 2 shards
    /// that do not fit together).
    Merge(zksim::merge_cmd::MergeArgs),
    /// Run scenario files (scripted faults, expectations) and check them.
    Run(zksim::run_cmd::RunArgs),
    /// Re-execute a trace and check it comes out byte for byte the same.
    Replay(zksim::sim_cmd::ReplayArgs),
    /// Print a trace as a zkCli-like transcript.
    Render(zksim::sim_cmd::RenderArgs),
    /// Reduce a failing trace to a smaller one that fails the same property.
    Shrink(zksim::shrink_cmd::ShrinkArgs),
    /// Show where two traces part (exit 0 identical, 1 different, 2 bad input).
    Diff(zksim::diff_cmd::DiffArgs),
    /// List the built-in recipes.
    Recipes(zksim::sim_cmd::RecipesArgs),
    /// Explore every interleaving of a recipe within fault budgets (time abstracted); exit 0
    /// verified, 1 violated, 2 bad input, 3 incomplete (a limit stopped it).
    Check(zksim::check_cmd::CheckArgs),
    /// Measure the simulator's speed on this machine.
    Bench(zksim::bench_cmd::BenchArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    zksim::interrupt::install();
    let result: Result<u8, CliError> = match cli.command {
        Some(Command::Record(args)) => zksim::recorder::run(&args).map(|()| 0),
        Some(Command::Conform(args)) => zksim::conform_cmd::run(&args).map(passed),
        Some(Command::Confirm(args)) => zksim::confirm_cmd::run(&args).map(passed),
        Some(Command::Simulate(args)) => zksim::sim_cmd::simulate(&args).map(passed),
        Some(Command::Merge(args)) => zksim::merge_cmd::merge_cmd(&args).map(passed),
        Some(Command::Run(args)) => zksim::run_cmd::run_cmd(&args).map(passed),
        Some(Command::Replay(args)) => zksim::sim_cmd::replay(&args).map(passed),
        Some(Command::Render(args)) => zksim::sim_cmd::render_cmd(&args).map(passed),
        Some(Command::Shrink(args)) => zksim::shrink_cmd::shrink_cmd(&args).map(passed),
        Some(Command::Diff(args)) => zksim::diff_cmd::diff_cmd(&args).map(passed),
        Some(Command::Recipes(args)) => zksim::sim_cmd::list_recipes(&args).map(passed),
        Some(Command::Bench(args)) => zksim::bench_cmd::bench(&args).map(passed),
        // Verified 0, violated 1, incomplete 3.
        Some(Command::Check(args)) => {
            zksim::check_cmd::check(&args).map(zksim::check_cmd::Verdict::exit_code)
        }
        // The built-in default job: check the model against the committed transcripts, check
        // the master/worker cluster (the fixed recipe) under a thousand swarm seeds, then
        // exhaustively in a shape with a backup master and a kill.
        None => zksim::conform_cmd::run(&zksim::conform_cmd::ConformArgs {
            transcripts: Vec::new(),
            json: false,
        })
        .and_then(|conforms| {
            let args = zksim::sim_cmd::SimulateArgs::default_run();
            zksim::sim_cmd::simulate(&args).map(|ok| ok && conforms)
        })
        .and_then(|ok| {
            let args = zksim::check_cmd::CheckArgs::default_run();
            zksim::check_cmd::check(&args)
                .map(|verdict| ok && verdict == zksim::check_cmd::Verdict::Verified)
        })
        .map(passed),
    };
    // An interruption's handler owns the exit: what the work ended with is its doing.
    zksim::interrupt::defer_to_handler();
    exit(result)
}
