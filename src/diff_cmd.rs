//! `zksim diff`: where two traces part, what led there, how they differ after, and the znode
//! tree at that point.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use zksim_sim::action::Action;
use zksim_sim::plural::count;
use zksim_sim::recipes;
use zksim_sim::render;
use zksim_sim::trace::{self, Header, StepLine, Trace};

use crate::exit::CliError;

/// Steps of context shown before the first difference.
const CONTEXT_STEPS: usize = 3;

/// Arguments of `zksim diff`.
#[derive(Clone, Debug, clap::Args)]
pub struct DiffArgs {
    /// The first trace.
    pub a: PathBuf,
    /// The second trace.
    pub b: PathBuf,
}

/// Runs `zksim diff`: `Ok(true)` (exit 0) when the traces are identical, `Ok(false)` (exit 1)
/// when they differ; an error (exit 2) on bad input.
pub fn diff_cmd(args: &DiffArgs) -> Result<bool, CliError> {
    let a = load(&args.a)?;
    let b = load(&args.b)?;
    let header_diffs = header_differences(&a.header, &b.header);
    let first = first_differing_step(&a.steps, &b.steps);
    if header_diffs.is_empty() && first.is_none() && a.end == b.end {
        crate::say!(
            "identical: {} and {} ({})",
            args.a.display(),
            args.b.display(),
            count(a.steps_taken(), "step", "steps")
        );
        return Ok(true);
    }
    crate::say!("{} and {} differ", args.a.display(), args.b.display());
    for d in &header_diffs {
        crate::say!("  header: {d}");
    }
    match first {
        None => {
            crate::say!("every step is the same; the end lines differ");
            crate::say!("  a: {}", trace::end_line(a.end.as_ref().expect("loaded")));
            crate::say!("  b: {}", trace::end_line(b.end.as_ref().expect("loaded")));
        }
        Some(i) => show_divergence(&a, &b, i, !header_diffs.is_empty()),
    }
    Ok(false)
}

/// Reads and parses a trace; errors name the file, and a trace without its end line is
/// reported as truncated.
fn load(path: &Path) -> Result<Trace, CliError> {
    let text = crate::files::read_text(path)?;
    let t = trace::parse(&text).map_err(|e| CliError::in_file(path, e))?;
    if t.end.is_none() {
        let lines = text.lines().filter(|l| !l.trim().is_empty()).count();
        return Err(format!(
            "{}: line {lines}: the trace is truncated (no end line after step {})",
            path.display(),
            t.steps.len() - 1
        )
        .into());
    }
    recipes::find(&t.header.recipe).map_err(|e| format!("{}: line 1: {e}", path.display()))?;
    Ok(t)
}

/// The header fields that differ, options field by field.
fn header_differences(a: &Header, b: &Header) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = |name: &str, x: String, y: String| {
        if x != y {
            out.push(format!("{name}: {x} vs {y}"));
        }
    };
    field("recipe", a.recipe.clone(), b.recipe.clone());
    field("seed", a.seed.to_string(), b.seed.to_string());
    field("swarm", a.swarm.to_string(), b.swarm.to_string());
    let policy = |h: &Header| h.policy.map_or("(none)".into(), |p| format!("{p:?}"));
    field("policy", policy(a), policy(b));
    field("processes", a.processes.join(","), b.processes.join(","));
    let fields = |h: &Header| -> BTreeMap<String, String> {
        match serde_json::to_value(&h.options) {
            Ok(serde_json::Value::Object(m)) => {
                m.into_iter().map(|(k, v)| (k, v.to_string())).collect()
            }
            _ => BTreeMap::new(),
        }
    };
    let (fa, fb) = (fields(a), fields(b));
    let keys: std::collections::BTreeSet<&String> = fa.keys().chain(fb.keys()).collect();
    for k in keys {
        let get = |m: &BTreeMap<String, String>| m.get(k).cloned().unwrap_or("(none)".into());
        field(&format!("options.{k}"), get(&fa), get(&fb));
    }
    out
}

/// The index of the first step that differs (or that only one trace has).
fn first_differing_step(a: &[StepLine], b: &[StepLine]) -> Option<usize> {
    let common = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    (common < a.len().max(b.len())).then_some(common)
}

fn show_divergence(a: &Trace, b: &Trace, i: usize, headers_differ: bool) {
    let line = i + 2; // the header is line 1, step 0 line 2
    crate::say!("first difference at step {i} (line {line} of each file)");
    if i > 0 {
        let from = i.saturating_sub(CONTEXT_STEPS);
        crate::say!("context, steps {from}..{} (the same in both):", i - 1);
        print_indented(&rendered_steps(a, from, i));
    }
    for (name, t) in [("a", a), ("b", b)] {
        match t.steps.get(i) {
            Some(s) => {
                crate::say!("{name} step {i}: {}", action_text(s.action.as_ref()));
                print_indented(&rendered_steps(t, i, i + 1));
            }
            None => crate::say!("{name} has no step {i}: it ended after step {}", i - 1),
        }
    }
    print_after(a, b, i);
    print_tree(a, i, headers_differ);
}

/// The renderer's lines for steps `from..to`, with the steps before rendered too (so a
/// reply finds its request) and then cut off.
fn rendered_steps(t: &Trace, from: usize, to: usize) -> String {
    let upto = |n: usize| {
        render::render(&Trace {
            header: t.header.clone(),
            steps: t.steps[..n.min(t.steps.len())].to_vec(),
            end: None,
        })
    };
    let (before, after) = (upto(from), upto(to));
    after[before.len()..].to_string()
}

fn print_indented(text: &str) {
    if text.is_empty() {
        crate::say!("    (no events)");
    }
    for l in text.lines() {
        crate::say!("    {l}");
    }
}

fn action_text(a: Option<&Action>) -> String {
    a.map_or("(the start)".into(), |a| {
        serde_json::to_string(a).unwrap_or_default()
    })
}

fn action_kind(a: &Action) -> String {
    serde_json::to_value(a)
        .ok()
        .and_then(|v| v.get("action").and_then(|k| k.as_str()).map(String::from))
        .unwrap_or_default()
}

/// Steps, events, actions by kind and violations of each trace from step `i` on.
fn print_after(a: &Trace, b: &Trace, i: usize) {
    crate::say!("from step {i} on:");
    crate::say!("  {:<26} {:>10} {:>10}", "", "a", "b");
    let tail = |t: &Trace| t.steps.get(i..).unwrap_or_default().to_vec();
    let (ta, tb) = (tail(a), tail(b));
    let events = |s: &[StepLine]| s.iter().map(|x| x.events.len()).sum::<usize>();
    crate::say!("  {:<26} {:>10} {:>10}", "steps", ta.len(), tb.len());
    crate::say!("  {:<26} {:>10} {:>10}", "events", events(&ta), events(&tb));
    let kinds = |s: &[StepLine]| {
        let mut m: BTreeMap<String, usize> = BTreeMap::new();
        for a in s.iter().filter_map(|x| x.action.as_ref()) {
            *m.entry(action_kind(a)).or_default() += 1;
        }
        m
    };
    let (ka, kb) = (kinds(&ta), kinds(&tb));
    let names: std::collections::BTreeSet<&String> = ka.keys().chain(kb.keys()).collect();
    for k in names {
        let n = |m: &BTreeMap<String, usize>| m.get(k).copied().unwrap_or(0);
        crate::say!("  {:<26} {:>10} {:>10}", format!("  {k}"), n(&ka), n(&kb));
    }
    for (name, t) in [("a", a), ("b", b)] {
        let v = &t.end.as_ref().expect("loaded").violations;
        if v.is_empty() {
            crate::say!("  {name} violates nothing");
        }
        for v in v {
            crate::say!("  {name} violates {:?} after step {}", v.property, v.step);
        }
    }
}

/// The znode tree after the last common step, replayed from the first trace's header.
fn print_tree(t: &Trace, i: usize, headers_differ: bool) {
    let Some(last) = i.checked_sub(1) else {
        crate::say!("the traces differ from the start; no common tree");
        return;
    };
    let note = if headers_differ {
        " (replayed with a's header)"
    } else {
        ""
    };
    crate::say!("znode tree after step {last}, the last common step{note}:");
    let recipe = match recipes::find(&t.header.recipe) {
        Ok(r) => r,
        Err(e) => return crate::say!("  cannot rebuild it: {e}"),
    };
    let (mut world, _) = recipe.world(&t.header.options, t.header.seed);
    for s in &t.steps[1..=last] {
        let Some(a) = &s.action else { continue };
        if let Err(e) = world.step(a) {
            return crate::say!("  cannot rebuild it: step {}: {e}", s.step);
        }
    }
    for (path, node) in world.server().tree().iter() {
        let owner = node
            .owner()
            .map_or(String::new(), |s| format!("  ephemeral, owner {s:#x}"));
        let path = if path.is_empty() { "/" } else { path };
        crate::say!("  {path} {}{owner}", node.data.display());
    }
}
