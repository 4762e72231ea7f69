//! `zksim merge`: the `--json` summaries of a range's shards (`simulate --shard I/N`) added up
//! to the summary one run over the whole range prints, byte for byte.
//!
//! ```
//! use zksim::sim_cmd::{Shard, Summary};
//! use zksim::merge_cmd::merge;
//!
//! let shard = |index, runs, failed: &[u64]| Summary {
//!     recipe: "fixed".into(),
//!     swarm: false,
//!     options: Default::default(),
//!     seed_start: 0,
//!     seed_end: 5,
//!     shard: Some(Shard { index, count: 2 }),
//!     runs,
//!     steps: 10 * runs,
//!     events: 20 * runs,
//!     failures: failed.len() as u64,
//!     failed: failed
//!         .iter()
//!         .map(|&seed| zksim::sim_cmd::Failure {
//!             seed,
//!             violations: vec!["p".into()],
//!             replay: format!("zksim simulate --recipe fixed --seed {seed}"),
//!         })
//!         .collect(),
//!     reached: Default::default(),
//!     coverage: None,
//! };
//! // Shard 0 of 0..5 ran seeds 0, 2 and 4; shard 1 seeds 1 and 3.
//! let inputs = vec![
//!     ("b.json".to_string(), shard(1, 2, &[1, 3])),
//!     ("a.json".to_string(), shard(0, 3, &[2])),
//! ];
//! let whole = merge(inputs).unwrap();
//! assert_eq!((whole.runs, whole.steps, whole.failures, whole.shard), (5, 50, 3, None));
//! let seeds: Vec<u64> = whole.failed.iter().map(|f| f.seed).collect();
//! assert_eq!(seeds, [1, 2, 3]);
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use zksim_sim::coverage::Coverage;

use crate::exit::CliError;
use crate::files;
use crate::sim_cmd::{print_summary, SeedRange, Shard, Summary, Tally};

/// Arguments of `zksim merge`.
#[derive(Clone, Debug, clap::Args)]
pub struct MergeArgs {
    /// The shards' summaries (`zksim simulate --shard I/N --json`), one a shard, in any order.
    #[arg(required = true, value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// Print the merged summary as JSON (as `simulate --json` prints it).
    #[arg(long)]
    pub json: bool,
}

/// Runs `zksim merge`: `Ok(false)` when some seed failed, as `simulate` over the whole range.
pub fn merge_cmd(args: &MergeArgs) -> Result<bool, CliError> {
    let mut inputs = Vec::with_capacity(args.files.len());
    for path in &args.files {
        let name = path.display().to_string();
        let text = files::read_text(path)?;
        let summary = parse(&name, &text)?;
        inputs.push((name, summary));
    }
    let whole = merge(inputs)?;
    if args.json {
        crate::say!(
            "{}",
            serde_json::to_string_pretty(&whole).map_err(|e| e.to_string())?
        );
    } else {
        print_summary(&whole);
    }
    Ok(whole.failures == 0)
}

/// Reads `text`, the file `name`, as a summary: an error names the file and, for text that is
/// not JSON or not a summary, the line.
pub fn parse(name: &str, text: &str) -> Result<Summary, String> {
    let invalid = |e: serde_json::Error| {
        format!(
            "{name}:{}: invalid JSON: {}",
            e.line(),
            without_place(&e.to_string())
        )
    };
    // The first value alone first, so that a file of JSON lines (a trace) or a JSON document
    // of another kind is told as not a summary rather than by where its JSON goes on.
    let first = serde_json::Deserializer::from_str(text)
        .into_iter::<serde_json::Value>()
        .next()
        .unwrap_or_else(|| serde_json::from_str::<serde_json::Value>(text))
        .map_err(invalid)?;
    let fields = ["recipe", "seed_start", "seed_end", "runs"];
    let is_summary = first
        .as_object()
        .is_some_and(|o| fields.iter().all(|k| o.contains_key(*k)));
    if !is_summary {
        return Err(format!(
            "{name}: not a summary of `zksim simulate --json` (no recipe, seed_start, seed_end \
             and runs at its top level)"
        ));
    }
    let summary: Summary = serde_json::from_str(text).map_err(|e| {
        if e.is_syntax() || e.is_eof() {
            invalid(e)
        } else {
            format!(
                "{name}:{}: not a summary of this zksim's `simulate --json`: {}",
                e.line(),
                without_place(&e.to_string())
            )
        }
    })?;
    // The range as `--seeds` takes it: B above A, at most SEEDS_MAX seeds (an edited file can
    // say anything).
    let (start, end) = (summary.seed_start, summary.seed_end);
    if end <= start || end - start > SeedRange::SEEDS_MAX {
        return Err(format!(
            "{name}: seeds {start}..{end}: not a range `simulate --seeds` runs (B above A, at \
             most {} seeds)",
            SeedRange::SEEDS_MAX
        ));
    }
    Ok(summary)
}

/// A serde_json message without the ` at line L column C` it ends with (the caller says the
/// place first).
fn without_place(message: &str) -> &str {
    message
        .rfind(" at line ")
        .map_or(message, |at| &message[..at])
}

/// The summary of the whole range from its shards' (each named by its file, in any order):
/// counts added up, failures in seed order (the first [`Tally::FAILED_KEPT_MAX`] of them, as
/// one run keeps), the sometimes-properties' and the coverage's counts added up. Refused, naming the file: a
/// summary of another recipe, options or range than the first one's, a shard twice, a shard
/// missing, a shard whose counts do not fit its slice. A summary without `shard` is the whole
/// range (shard 0/1).
pub fn merge(inputs: Vec<(String, Summary)>) -> Result<Summary, String> {
    let Some((first_name, first)) = inputs.first() else {
        return Err("no summary to merge".into());
    };
    let count = first.shard.unwrap_or_default().count;
    let range = SeedRange {
        start: first.seed_start,
        end: first.seed_end,
    };
    let mut by_index: BTreeMap<u64, &str> = BTreeMap::new();
    for (name, s) in &inputs {
        same_run(first_name, first, name, s)?;
        let shard = s.shard.unwrap_or_default();
        shard
            .validate()
            .map_err(|e| format!("{name}: shard: {e}"))?;
        if shard.count != count {
            return Err(format!(
                "{name}: shard {shard}, but {first_name}'s is {first_shard}{whole}: the shards \
                 of one run cut its range alike",
                first_shard = first.shard.unwrap_or_default(),
                whole = if count == 1 { " (the whole range)" } else { "" }
            ));
        }
        if let Some(other) = by_index.insert(shard.index, name) {
            return Err(format!(
                "{name}: shard {shard} is also {other}: give each shard once"
            ));
        }
        fits(name, s, range, shard)?;
    }
    let missing: Vec<String> = (0..count)
        .filter(|i| !by_index.contains_key(i))
        .take(10)
        .map(|i| format!("{i}/{count}"))
        .collect();
    if !missing.is_empty() {
        let absent = count - by_index.len() as u64;
        return Err(format!(
            "missing {absent} of the {count} shards of seeds {}..{}: {}{} ({})",
            range.start,
            range.end,
            missing.join(", "),
            if absent > missing.len() as u64 {
                ", ..."
            } else {
                ""
            },
            given(&by_index)
        ));
    }
    add_up(inputs.into_iter().map(|(_, s)| s))
}

/// The files given, by shard index, as an error lists them: by name when there are a few.
fn given(by_index: &BTreeMap<u64, &str>) -> String {
    if by_index.len() <= 10 {
        let names: Vec<&str> = by_index.values().copied().collect();
        format!("given: {}", names.join(", "))
    } else {
        format!("{} given", by_index.len())
    }
}

/// Refuses `s` (the file `name`) if it is of another run than `first`'s: another recipe,
/// swarm or not, other options, another range.
fn same_run(first_name: &str, first: &Summary, name: &str, s: &Summary) -> Result<(), String> {
    let differ = |what: &str, theirs: String, ours: String| {
        Err(format!(
            "{name}: {what} {theirs}, but {first_name}'s is {ours}: shards of one run have the \
             same recipe, options and seeds"
        ))
    };
    if s.recipe != first.recipe {
        return differ(
            "recipe",
            format!("{:?}", s.recipe),
            format!("{:?}", first.recipe),
        );
    }
    if s.swarm != first.swarm {
        return differ("swarm", s.swarm.to_string(), first.swarm.to_string());
    }
    if (s.seed_start, s.seed_end) != (first.seed_start, first.seed_end) {
        return differ(
            "seeds",
            format!("{}..{}", s.seed_start, s.seed_end),
            format!("{}..{}", first.seed_start, first.seed_end),
        );
    }
    if s.coverage.is_some() != first.coverage.is_some() {
        let with = |c: bool| if c { "with" } else { "without" };
        return Err(format!(
            "{name}: a run {} --coverage, but {first_name} is one {}: shards of one run are \
             all run with it or all without",
            with(s.coverage.is_some()),
            with(first.coverage.is_some())
        ));
    }
    if s.options != first.options {
        let (theirs, ours) = (option_fields(&s.options), option_fields(&first.options));
        let field = theirs
            .iter()
            .chain(&ours)
            .map(|(k, _)| k)
            .find(|k| theirs.get(*k) != ours.get(*k))
            .cloned()
            .unwrap_or_default();
        let shown = |f: &BTreeMap<String, String>| {
            f.get(&field).cloned().unwrap_or_else(|| "(none)".into())
        };
        return differ(&format!("options.{field}"), shown(&theirs), shown(&ours));
    }
    Ok(())
}

/// The options' fields as JSON text, by name (`shape.workers` for the shape's).
fn option_fields(options: &zksim_sim::options::Options) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let value = serde_json::to_value(options).unwrap_or_default();
    for (k, v) in value.as_object().into_iter().flatten() {
        match v.as_object() {
            Some(inner) if k == "shape" => {
                for (k2, v2) in inner {
                    out.insert(format!("shape.{k2}"), v2.to_string());
                }
            }
            _ => {
                out.insert(k.clone(), v.to_string());
            }
        }
    }
    out
}

/// Refuses a shard's summary whose counts cannot be its slice's: another number of runs than
/// the slice has seeds, a failing seed outside the slice or out of order, a failure list
/// that disagrees with the failure count, a property reached in more runs than were made.
fn fits(name: &str, s: &Summary, range: SeedRange, shard: Shard) -> Result<(), String> {
    let seeds = shard.len(range);
    if s.runs != seeds {
        return Err(format!(
            "{name}: {} runs, but shard {shard} of seeds {}..{} holds {seeds} seeds (was the \
             run cut short?)",
            s.runs, range.start, range.end
        ));
    }
    let kept = s.failures.min(Tally::FAILED_KEPT_MAX as u64);
    if s.failed.len() as u64 != kept {
        return Err(format!(
            "{name}: {} failing seeds listed, but {} failures counted (a summary lists the \
             first {} of them)",
            s.failed.len(),
            s.failures,
            Tally::FAILED_KEPT_MAX
        ));
    }
    if s.failures > s.runs {
        return Err(format!(
            "{name}: {} failures in {} runs",
            s.failures, s.runs
        ));
    }
    for (i, f) in s.failed.iter().enumerate() {
        if !shard.holds(range, f.seed) {
            return Err(format!(
                "{name}: failing seed {} is not one of shard {shard}'s seeds of {}..{}",
                f.seed, range.start, range.end
            ));
        }
        if i > 0 && s.failed[i - 1].seed >= f.seed {
            return Err(format!(
                "{name}: failing seed {} is listed after seed {} (a summary lists them in \
                 seed order, each once)",
                f.seed,
                s.failed[i - 1].seed
            ));
        }
    }
    if let Some((property, n)) = s.reached.iter().find(|(_, n)| **n > s.runs) {
        return Err(format!(
            "{name}: {property:?} reached in {n} runs of {}",
            s.runs
        ));
    }
    let points = s.coverage.iter().flat_map(|c| &c.points);
    if let Some((site, c)) = points.into_iter().find(|(_, c)| c.written > s.runs) {
        return Err(format!(
            "{name}: coverage point {} {} written in {} runs of {}",
            site.process, site.write, c.written, s.runs
        ));
    }
    let notices = s.coverage.iter().flat_map(|c| &c.notices);
    if let Some((site, c)) = notices.into_iter().find(|(_, c)| c.written > s.runs) {
        return Err(format!(
            "{name}: coverage notice {} {} queued in {} runs of {}",
            site.process, site.write, c.written, s.runs
        ));
    }
    Ok(())
}

/// The shards' summaries (checked to fit together) added up to the whole range's; counts too
/// large to add (only an edited file has them) are refused.
fn add_up(shards: impl Iterator<Item = Summary>) -> Result<Summary, String> {
    let mut shards = shards.peekable();
    let mut whole = shards.peek().cloned().expect("at least one shard");
    whole.shard = None;
    whole.runs = 0;
    whole.steps = 0;
    whole.events = 0;
    whole.failures = 0;
    whole.failed = Vec::new();
    whole.reached = BTreeMap::new();
    if let Some(coverage) = &mut whole.coverage {
        *coverage = Coverage::default();
    }
    let add = |total: &mut u64, n: u64, what: &str| {
        *total = total
            .checked_add(n)
            .ok_or_else(|| format!("the shards' {what} add up to more than {}", u64::MAX))?;
        Ok::<(), String>(())
    };
    for s in shards {
        add(&mut whole.runs, s.runs, "runs")?;
        add(&mut whole.steps, s.steps, "steps")?;
        add(&mut whole.events, s.events, "events")?;
        add(&mut whole.failures, s.failures, "failures")?;
        whole.failed.extend(s.failed);
        for (name, n) in s.reached {
            add(
                whole.reached.entry(name).or_insert(0),
                n,
                "runs reaching a property",
            )?;
        }
        if let (Some(all), Some(more)) = (&mut whole.coverage, s.coverage) {
            all.merge(more).ok_or_else(|| {
                "the shards' coverage counts add up to more than 2^64".to_string()
            })?;
        }
    }
    // Each shard lists its own first failures, so the whole range's first ones are among
    // them: a seed of shard i among the range's first K failing seeds has fewer than K of
    // shard i's failing seeds below it.
    whole.failed.sort_by_key(|f| f.seed);
    whole.failed.truncate(Tally::FAILED_KEPT_MAX);
    Ok(whole)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim_cmd::Failure;

    /// Shard `index` of `count` of `range` in which every seed failed, listing its first
    /// failures as `simulate` keeps them.
    fn all_failing(range: SeedRange, index: u64, count: u64) -> Summary {
        let shard = Shard { index, count };
        let runs = shard.len(range);
        let failed = (0..runs.min(Tally::FAILED_KEPT_MAX as u64))
            .map(|k| Failure {
                seed: shard.nth(range, k),
                violations: vec!["p".into()],
                replay: String::new(),
            })
            .collect();
        Summary {
            recipe: "fixed".into(),
            swarm: false,
            options: Default::default(),
            seed_start: range.start,
            seed_end: range.end,
            shard: Some(shard),
            runs,
            steps: runs,
            events: runs,
            failures: runs,
            failed,
            reached: BTreeMap::new(),
            coverage: None,
        }
    }

    // Each shard keeps only its own first 10,000 failing seeds; merged, the list is still the
    // whole range's first 10,000, as one run keeps them.
    #[test]
    fn the_merged_failures_are_the_whole_ranges_first_ones_though_each_shard_kept_a_part() {
        let range = SeedRange {
            start: 5,
            end: 30_005,
        };
        // Two shards of 15,000 failing seeds each, each listing its first 10,000.
        let inputs = (0..2)
            .rev()
            .map(|i| (format!("{i}.json"), all_failing(range, i, 2)))
            .collect();
        let whole = merge(inputs).unwrap();
        assert_eq!(whole.failures, 30_000);
        let seeds: Vec<u64> = whole.failed.iter().map(|f| f.seed).collect();
        assert_eq!(seeds, (5..10_005).collect::<Vec<u64>>());
    }

    // A shard whose list stops short of what its failure count says is refused.
    #[test]
    fn a_shard_listing_fewer_failures_than_it_kept_is_refused() {
        let range = SeedRange { start: 0, end: 100 };
        let mut short = all_failing(range, 1, 2);
        short.failed.pop();
        let inputs = vec![
            ("a.json".to_string(), all_failing(range, 0, 2)),
            ("b.json".to_string(), short),
        ];
        let err = merge(inputs).unwrap_err();
        assert!(
            err.starts_with("b.json: 49 failing seeds listed, but 50"),
            "{err}"
        );
    }
}
