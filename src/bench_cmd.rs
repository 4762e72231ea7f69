//! `zksim bench`: how fast the simulator runs, on this machine.
//!
//! Three workloads, each on one core and on every core:
//! - `election`: the election recipe with faults (crashes, restarts, disconnects,
//!   reconnects, expiries) kept up for the whole safety phase, sized so a run makes about a
//!   thousand events;
//! - `cluster`: the master/worker cluster (`fixed`) under swarm options, as
//!   `zksim simulate --recipe fixed --swarm` runs it;
//! - `cluster-large`: `fixed` with 2 masters, 4 workers and 4 clients of 250 tasks each
//!   (1,000 tasks, some 70,000 steps a run), where the cost of a step must not grow with the
//!   tasks and claims a run holds.
//!
//! It reports events, steps and seeds per second. Targets: 1,000,000 events/s per core on
//! the election and the cluster, 300,000 steps/s on the large shape, 1,000 seeds/s.

use std::time::Instant;

use serde::Serialize;
use zksim_sim::options::{Options, Shape};
use zksim_sim::plural::count;
use zksim_sim::recipes;
use zksim_sim::run;

use crate::exit::CliError;
use crate::sim_cmd::{simulate_range, SeedRange, Seeds, SeedsDone, Shard, Tally};

/// Arguments of `zksim bench`.
#[derive(Clone, Debug, clap::Args)]
pub struct BenchArgs {
    /// How many seeds to run per measurement, 1 to 1000000.
    #[arg(long, default_value_t = 5000, value_parser = crate::sim_cmd::ranged!(u64, 1, SEEDS_MAX))]
    pub seeds: u64,
    /// Print a machine-readable result.
    #[arg(long)]
    pub json: bool,
}

/// The most seeds a measurement runs (`--seeds`): a few minutes on one core.
pub const SEEDS_MAX: u64 = 1_000_000;

/// The options of the benchmark workload: faults all through a 1000-step safety phase.
pub fn workload() -> Options {
    Options {
        crashes_max: 60,
        disconnects_max: 120,
        fault_per_mille: 150,
        steps_max: 960,
        ..Options::default()
    }
}

/// One workload: a recipe, its options, whether swarm draws them, and its share of `--seeds`.
struct Workload {
    name: &'static str,
    recipe: &'static str,
    options: Options,
    swarm: bool,
    /// Seeds a measurement runs per thousand of `--seeds` (at least one).
    seeds_per_mille: u64,
}

fn workloads() -> Vec<Workload> {
    vec![
        Workload {
            name: "election",
            recipe: "election",
            options: workload(),
            swarm: false,
            seeds_per_mille: 1000,
        },
        Workload {
            name: "cluster",
            recipe: "fixed",
            options: Options::default(),
            swarm: true,
            seeds_per_mille: 1000,
        },
        Workload {
            name: "cluster-large",
            recipe: "fixed",
            options: Options {
                shape: Shape {
                    masters: Some(2),
                    workers: Some(4),
                    clients: Some(4),
                    tasks: Some(250),
                    queued: None,
                },
                steps_max: 100_000,
                ..Options::default()
            },
            swarm: false,
            seeds_per_mille: 2,
        },
    ]
}

/// One measurement.
#[derive(Debug, Serialize)]
pub struct Measured {
    /// The workload (`election`, `cluster`, `cluster-large`).
    pub workload: &'static str,
    /// Threads used.
    pub threads: usize,
    /// Runs made.
    pub runs: u64,
    /// Steps taken.
    pub steps: u64,
    /// Events produced.
    pub events: u64,
    /// Mean events per run.
    pub events_per_run: f64,
    /// Wall time.
    pub seconds: f64,
    /// Events per second.
    pub events_per_s: f64,
    /// Steps per second.
    pub steps_per_s: f64,
    /// Seeds per second.
    pub seeds_per_s: f64,
}

// The benchmark measures real time; nothing it times depends on the clock.
#[allow(clippy::disallowed_methods)]
fn measure(w: &Workload, threads: usize, seeds: u64) -> Result<Measured, CliError> {
    let recipe = recipes::find(w.recipe)?;
    let start = Instant::now();
    let tally = if threads == 1 {
        let mut tally = Tally::default();
        for s in 0..seeds {
            tally.add(&run::simulate(&recipe, &w.options, s, w.swarm, false)?);
        }
        tally
    } else {
        simulate_range(
            &recipe,
            &w.options,
            Seeds {
                range: SeedRange {
                    start: 0,
                    end: seeds,
                },
                shard: Shard::default(),
                cover: false,
            },
            w.swarm,
            threads,
            &SeedsDone::default(),
        )?
    };
    let seconds = start.elapsed().as_secs_f64();
    if let Some((seed, _)) = tally.failed.first() {
        return Err(format!("the benchmark workload {} failed on seed {seed}", w.name).into());
    }
    Ok(Measured {
        workload: w.name,
        threads,
        runs: seeds,
        steps: tally.steps,
        events: tally.events,
        events_per_run: tally.events as f64 / seeds as f64,
        seconds,
        events_per_s: tally.events as f64 / seconds,
        steps_per_s: tally.steps as f64 / seconds,
        seeds_per_s: seeds as f64 / seconds,
    })
}

/// Runs `zksim bench`.
pub fn bench(args: &BenchArgs) -> Result<bool, CliError> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let mut results = Vec::new();
    for w in workloads() {
        let seeds = (args.seeds * w.seeds_per_mille / 1000).max(1);
        measure(&w, 1, seeds.min(200).div_ceil(10))?; // warm-up
        results.push(measure(&w, 1, seeds)?);
        if cores > 1 {
            results.push(measure(&w, cores, seeds)?);
        }
    }
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        crate::say!(
            "bench: {} per measurement, fewer for long runs",
            count(args.seeds, "seed", "seeds")
        );
        for m in &results {
            crate::say!(
                "  {:<13} {:<9}: {:>6} runs, {:>6.0} events/run, {:>9.0} events/s, \
                 {:>9.0} steps/s, {:>7.0} seeds/s ({:.2} s)",
                m.workload,
                count(m.threads, "thread", "threads"),
                m.runs,
                m.events_per_run,
                m.events_per_s,
                m.steps_per_s,
                m.seeds_per_s,
                m.seconds
            );
        }
    }
    Ok(true)
}
