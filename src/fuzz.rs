//! The bodies of the fuzz targets in `fuzz/` (cargo-fuzz, nightly), one an input format, as
//! plain functions so that a stable test (`tests/fuzz_corpus.rs`) runs them too on a seeded
//! corpus of mutated files. Each takes any bytes and must return without panicking, whatever
//! they are: they go through the same path as a file a command reads (UTF-8 first, then the
//! parser), and whatever parses goes on to what a command does with it next.
//!
//! ```
//! zksim::fuzz::trace(b"{\"header\":{}}\n\xff");
//! zksim::fuzz::scenario(b"recipe = \"fixed\"\nseed = 1\nexpect = \"pass\"\n");
//! zksim::fuzz::transcript(b"{\"schema\": 1, \"steps\": []}");
//! zksim::fuzz::summary(b"{\"recipe\": \"fixed\"}");
//! ```

use zksim_sim::files;

/// The file name the inputs are given in errors.
const FILE: &str = "fuzz-input";

/// A scenario file: read as `zksim run` reads it, parsed and validated (recipe, processes,
/// triggers, globs, bounds), and, if valid, run (its script matched against every event).
/// Returns whether the input was valid.
pub fn scenario(bytes: &[u8]) -> bool {
    let Ok(text) = files::utf8(bytes.to_vec(), FILE) else {
        return false;
    };
    let Ok(s) = zksim_sim::scenario::parse(&text, FILE) else {
        return false;
    };
    let _ = s.run();
    true
}

/// A trace: parsed as every trace reader parses it, then, if it parses, rendered as
/// `zksim render` prints it (transcript, Mermaid, HTML page), translated into the script
/// `zksim confirm` would run on a real server, and replayed as `zksim replay` replays it (its
/// runs are bounded by the header's validated options). Returns whether the input parsed (so
/// the later stages ran).
pub fn trace(bytes: &[u8]) -> bool {
    let Ok(text) = files::utf8(bytes.to_vec(), FILE) else {
        return false;
    };
    let Ok(t) = zksim_sim::trace::parse(&text) else {
        return false;
    };
    let _ = zksim_sim::render::render(&t);
    let _ = crate::html::mermaid::mermaid(&t);
    let _ = crate::html::page(&t);
    let _ = crate::confirm_cmd::translate(&t);
    if let Ok(recipe) = zksim_sim::recipes::find(&t.header.recipe) {
        let _ = zksim_sim::run::replay_with(&recipe, &text);
    }
    true
}

/// A conformance transcript or script: parsed as `zksim conform` and `zksim record` parse
/// them, then, if it parses, checked against the model as `conform` checks it (its forks are
/// bounded by the validated number of `send_then_disconnect` steps, the sessions that may
/// expire at one step and the model steps a check may take). Returns whether the input
/// parsed as a script or a transcript.
pub fn transcript(bytes: &[u8]) -> bool {
    let Ok(text) = files::utf8(bytes.to_vec(), FILE) else {
        return false;
    };
    let script = crate::recorder::parse_script(&text).is_ok();
    match crate::conformance::check::parse_recorded(&text) {
        Ok(t) => {
            let _ = crate::conformance::check::check(&t, std::path::Path::new(FILE));
            true
        }
        Err(_) => script,
    }
}

/// A `simulate --json` summary: read as `zksim merge` reads it, then, if it parses, merged
/// alone (its own shard, or the whole range) and with itself (a shard given twice, refused).
/// Returns whether the input parsed as a summary.
pub fn summary(bytes: &[u8]) -> bool {
    let Ok(text) = files::utf8(bytes.to_vec(), FILE) else {
        return false;
    };
    let Ok(s) = crate::merge_cmd::parse(FILE, &text) else {
        return false;
    };
    let _ = crate::merge_cmd::merge(vec![(FILE.into(), s.clone())]);
    let _ = crate::merge_cmd::merge(vec![(FILE.into(), s.clone()), ("again".into(), s)]);
    true
}
