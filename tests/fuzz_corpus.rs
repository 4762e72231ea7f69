//! The fuzz targets' bodies (`zksim::fuzz`, which `fuzz/` runs under cargo-fuzz on nightly)
//! on a bounded corpus, on stable: every committed input file of each format, and a fixed
//! number of deterministic mutations of them (bit flips, truncations, insertions of random
//! bytes and of the format's punctuation, deletions, duplications, numbers made extreme)
//! drawn from a seeded ChaCha8 stream. Each must return without panicking; a panic is
//! reported with the file and the mutation's number, and its input is written out for
//! `cargo fuzz run TARGET INPUT` or a regression case.

use std::panic::AssertUnwindSafe;
use std::path::{Path, PathBuf};

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The committed files under `dirs` (relative to the repository) whose name ends in `ext`,
/// in name order, with their bytes.
fn corpus(dirs: &[&str], ext: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = Vec::new();
    for dir in dirs {
        let mut files: Vec<PathBuf> = std::fs::read_dir(root.join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.to_string_lossy().ends_with(ext))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            out.push((f, bytes));
        }
    }
    assert!(!out.is_empty(), "no {ext} files in {dirs:?}");
    out
}

/// Byte strings a mutation inserts: the punctuation and keywords of TOML and JSON lines,
/// and values at and past the bounds the readers enforce.
const TOKENS: [&[u8]; 24] = [
    b"\"",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"=",
    b"\n",
    b"\\u0000",
    b"null",
    b"true",
    b"-1",
    b"0",
    b"4294967295",
    b"18446744073709551615",
    b"1e400",
    b"**",
    b"[[fault]]\n",
    b"{\"end\":{}}\n",
    b"\"shape\":{\"masters\":64,\"workers\":64}",
    b"\"process\":4000000000",
    b"\xff",
    b"\xe2\x82",
];

/// Numbers a mutation puts in place of one in the input.
const NUMBERS: [&[u8]; 8] = [
    b"0",
    b"1",
    b"63",
    b"64",
    b"65",
    b"4294967295",
    b"18446744073709551615",
    b"99999999999999999999999",
];

/// One to three edits of `input`, drawn from `rng`. Numbers made extreme are the likeliest
/// edit: they keep the text well-formed, so the input gets past the parser to what runs.
fn mutate(rng: &mut ChaCha8Rng, input: &[u8]) -> Vec<u8> {
    let mut b = input.to_vec();
    for _ in 0..rng.gen_range(1..=3) {
        let at = rng.gen_range(0..=b.len());
        match rng.gen_range(0..11) {
            0 if !b.is_empty() => {
                let i = at.min(b.len() - 1);
                b[i] ^= 1 << rng.gen_range(0..8);
            }
            1 => b.truncate(at),
            2 => {
                let len = rng.gen_range(1..=8);
                let bytes: Vec<u8> = (0..len).map(|_| rng.gen()).collect();
                b.splice(at..at, bytes);
            }
            3 | 4 => {
                let token = TOKENS[rng.gen_range(0..TOKENS.len())];
                b.splice(at..at, token.iter().copied());
            }
            5 => {
                let end = (at + rng.gen_range(1..=64)).min(b.len());
                b.drain(at..end);
            }
            6 => {
                let end = (at + rng.gen_range(1..=64)).min(b.len());
                let chunk = b[at..end].to_vec();
                b.splice(at..at, chunk);
            }
            _ => {
                // The number at or after `at`, if any, made extreme.
                if let Some(start) = b[at..].iter().position(u8::is_ascii_digit) {
                    let start = at + start;
                    let len = b[start..].iter().take_while(|c| c.is_ascii_digit()).count();
                    let number = NUMBERS[rng.gen_range(0..NUMBERS.len())];
                    b.splice(start..start + len, number.iter().copied());
                }
            }
        }
    }
    b
}

/// Runs `target` on each file of `seeds` and on `cases` mutations of them (file `i % n` for
/// the `i`th), each drawn from its own seeded stream; panics listing every input that made
/// the target panic, or when fewer than `valid_min` of the mutations were valid input (the
/// deeper stages would then go untested).
fn fuzz(
    name: &str,
    target: fn(&[u8]) -> bool,
    seeds: &[(PathBuf, Vec<u8>)],
    cases: usize,
    valid_min: usize,
) {
    let scratch = std::env::temp_dir().join(format!("zksim-fuzz-{name}-{}", std::process::id()));
    let mut panicked = Vec::new();
    let mut run = |what: String, input: &[u8]| -> bool {
        match std::panic::catch_unwind(AssertUnwindSafe(|| target(input))) {
            Ok(valid) => valid,
            Err(_) => {
                std::fs::create_dir_all(&scratch).unwrap();
                let path = scratch.join(format!("crash-{}", panicked.len()));
                std::fs::write(&path, input).unwrap();
                panicked.push(format!("{what} (input written to {})", path.display()));
                false
            }
        }
    };
    let invalid_seeds: Vec<String> = seeds
        .iter()
        .filter(|(file, bytes)| !run(file.display().to_string(), bytes))
        .map(|(file, _)| file.display().to_string())
        .collect();
    let mut valid = 0;
    for i in 0..cases {
        let (file, bytes) = &seeds[i % seeds.len()];
        let mut rng = ChaCha8Rng::seed_from_u64(i as u64);
        let input = mutate(&mut rng, bytes);
        valid += usize::from(run(format!("mutation {i} of {}", file.display()), &input));
    }
    assert!(
        panicked.is_empty(),
        "the {name} target panicked on {} of {} inputs:\n{}",
        panicked.len(),
        seeds.len() + cases,
        panicked.join("\n")
    );
    assert!(
        invalid_seeds.is_empty(),
        "invalid committed files: {invalid_seeds:?}"
    );
    eprintln!("{name}: {valid} of {cases} mutations were valid input");
    assert!(
        valid >= valid_min,
        "{name}: only {valid} of {cases} mutations were valid"
    );
}

// Goal: no scenario file, committed or mutated, makes the scenario reader panic.
#[test]
fn the_scenario_target_never_panics_on_the_corpus_and_its_mutations() {
    let seeds = corpus(&["scenarios"], ".toml");
    fuzz("scenario", zksim::fuzz::scenario, &seeds, 1500, 150);
}

// Goal: no trace, committed or mutated, makes a trace reader (parse, render, Mermaid, HTML,
// replay) panic.
#[test]
fn the_trace_target_never_panics_on_the_corpus_and_its_mutations() {
    let seeds = corpus(&["scenarios/regressions", "tests/fixtures/html"], ".jsonl");
    fuzz("trace", zksim::fuzz::trace, &seeds, 1000, 50);
}

// Goal: no `simulate --json` summary, committed or mutated, makes the reader `zksim merge`
// uses (parse, then merge) panic.
#[test]
fn the_summary_target_never_panics_on_the_corpus_and_its_mutations() {
    let seeds = corpus(&["tests/fixtures/summaries"], ".json");
    fuzz("summary", zksim::fuzz::summary, &seeds, 1500, 50);
}

// Goal: no conformance script or transcript, committed or mutated, makes the transcript
// reader (parse, validate, check against the model) panic.
#[test]
fn the_transcript_target_never_panics_on_the_corpus_and_its_mutations() {
    let seeds = corpus(
        &["tests/conformance/scripts", "tests/conformance/transcripts"],
        ".json",
    );
    fuzz("transcript", zksim::fuzz::transcript, &seeds, 1500, 100);
}

// Goal: the mutations are not vacuous: they are deterministic, and most of them differ from
// their input.
#[test]
fn the_mutations_are_deterministic_and_change_their_input() {
    let input = br#"{"header":{"seed":12,"steps_max":1000}}"#;
    let draw = |i: u64| mutate(&mut ChaCha8Rng::seed_from_u64(i), input);
    assert_eq!(draw(7), draw(7));
    let changed = (0..1000).filter(|&i| draw(i) != input).count();
    assert!(
        changed > 900,
        "{changed} of 1000 mutations changed the input"
    );
}
