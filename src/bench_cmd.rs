//! `zksim bench`: how fast the simulator runs, on this machine.
//!
//! The workload is the election recipe with faults (crashes, restarts, disconnects,
//! reconnects, expiries) kept up for the whole safety phase, sized so a run makes about a
//! thousand events. It reports events per second and seeds per second on one core and on
//! every core. Targets (issue 3): at least 1,000,000 events/s per core and 1,000 seeds/s.

use std::time::Instant;

use serde::Serialize;
use zksim_sim::options::Options;
use zksim_sim::plural::count;
use zksim_sim::recipes;
use zksim_sim::run;

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

/// One measurement.
#[derive(Debug, Serialize)]
pub struct Measured {
    /// Threads used.
    pub threads: usize,
    /// Runs made.
    pub runs: u64,
    /// Events produced.
    pub events: u64,
    /// Mean events per run.
    pub events_per_run: f64,
    /// Wall time.
    pub seconds: f64,
    /// Events per second.
    pub events_per_s: f64,
    /// Seeds per second.
    pub seeds_per_s: f64,
}

// The benchmark measures real time; nothing it times depends on the clock.
#[allow(clippy::disallowed_methods)]
fn measure(threads: usize, seeds: u64) -> Result<Measured, String> {
    let recipe = recipes::find("election")?;
    let options = workload();
    let start = Instant::now();
    let tally = if threads == 1 {
        let mut tally = Tally::default();
        for s in 0..seeds {
            tally.add(&run::simulate(&recipe, &options, s, false, false)?);
        }
        tally
    } else {
        simulate_range(
            &recipe,
            &options,
            Seeds {
                range: SeedRange {
                    start: 0,
                    end: seeds,
                },
                shard: Shard::default(),
                cover: false,
            },
            false,
            threads,
            &SeedsDone::default(),
        )?
    };
    let seconds = start.elapsed().as_secs_f64();
    let events = tally.events;
    if let Some((seed, _)) = tally.failed.first() {
        return Err(format!("the benchmark workload failed on seed {seed}"));
    }
    Ok(Measured {
        threads,
        runs: seeds,
        events,
        events_per_run: events as f64 / seeds as f64,
        seconds,
        events_per_s: events as f64 / seconds,
        seeds_per_s: seeds as f64 / seconds,
    })
}

/// Runs `zksim bench`.
pub fn bench(args: &BenchArgs) -> Result<bool, String> {
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    measure(1, args.seeds.min(200))?; // warm-up
    let mut results = vec![measure(1, args.seeds)?];
    if cores > 1 {
        results.push(measure(cores, args.seeds)?);
    }
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&results).map_err(|e| e.to_string())?
        );
    } else {
        crate::say!(
            "bench: election with faults, {} per measurement",
            count(args.seeds, "seed", "seeds")
        );
        for m in &results {
            crate::say!(
                "  {:<9}: {:.0} events/run, {:>10.0} events/s, {:>8.0} seeds/s ({:.2} s)",
                count(m.threads, "thread", "threads"),
                m.events_per_run,
                m.events_per_s,
                m.seeds_per_s,
                m.seconds
            );
        }
    }
    Ok(true)
}
