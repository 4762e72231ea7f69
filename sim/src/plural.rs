//! Counts in messages read as English: "1 step", "2 steps", never "1 steps". Every message of
//! zksim that prints a count with a noun takes the noun from here.
//!
//! ```
//! use zksim_sim::plural::{count, noun};
//! assert_eq!(count(1u64, "run", "runs"), "1 run");
//! assert_eq!(count(0usize, "run", "runs"), "0 runs");
//! assert_eq!(count(3u32, "process", "processes"), "3 processes");
//! // The noun alone, where the count is printed apart ("reached in 1/1 run", a column).
//! assert_eq!(noun(1u64, "run", "runs"), "run");
//! ```

use std::fmt::Display;

/// `one` when `n` is 1, else `many` (0 takes the plural, as in "0 failures").
pub fn noun<'a, N: PartialEq + From<u8>>(n: N, one: &'a str, many: &'a str) -> &'a str {
    if n == N::from(1) {
        one
    } else {
        many
    }
}

/// `n` and its noun: `"1 step"`, `"2 steps"`.
pub fn count<N: PartialEq + From<u8> + Display + Copy>(n: N, one: &str, many: &str) -> String {
    format!("{n} {}", noun(n, one, many))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: one takes the singular, every other count (0 too) the plural.
    #[test]
    fn one_is_singular_and_every_other_count_plural() {
        assert_eq!(count(1u64, "step", "steps"), "1 step");
        assert_eq!(count(0u64, "step", "steps"), "0 steps");
        assert_eq!(count(2u64, "step", "steps"), "2 steps");
        assert_eq!(count(11u32, "step", "steps"), "11 steps");
        assert_eq!(count(1usize, "entry", "entries"), "1 entry");
        assert_eq!(count(u64::MAX, "run", "runs"), format!("{} runs", u64::MAX));
    }

    // Goal: the noun alone follows the same rule.
    #[test]
    fn the_noun_alone_follows_the_same_rule() {
        assert_eq!(noun(1usize, "failure", "failures"), "failure");
        assert_eq!(noun(0usize, "failure", "failures"), "failures");
        assert_eq!(noun(21u64, "failure", "failures"), "failures");
    }
}
