//! A property test of a recipe under generated fault plans, as you would write it in your own
//! crate: shapes × fault plans × seeds, each case run by `check_plan`; the first failure is
//! shrunk by proptest and reported with the command that reproduces it.
//!
//! ```text
//! cargo run -p zksim-sim --example property_test                       # fixed, 32 cases
//! cargo run -p zksim-sim --example property_test -- assign-then-delete 64
//! ```
//!
//! In a test of your own, the same is a `proptest!` block: see the `zksim_sim::proptest` docs.

use proptest::test_runner::TestError;
use zksim_sim::proptest::{check_plan, fault_plans, runner, seeds, shapes};

fn main() {
    let mut args = std::env::args().skip(1);
    let recipe = args.next().unwrap_or_else(|| "fixed".to_string());
    let cases: u32 = args
        .next()
        .map_or(32, |n| n.parse().expect("a number of cases"));
    // A fixed proptest RNG and no proptest-regressions/ files: the same cases on every run.
    let mut runner = runner(cases);
    let result = runner.run(
        &(shapes(), fault_plans(), seeds()),
        |(shape, plan, seed)| {
            check_plan(&recipe, shape, &plan, seed)?;
            Ok(())
        },
    );
    match result {
        Ok(()) => println!("{recipe}: {cases} cases, no property violated"),
        Err(TestError::Fail(message, _)) => panic!("{recipe}: a case failed (shrunk):\n{message}"),
        Err(e) => panic!("{recipe}: {e}"),
    }
}
