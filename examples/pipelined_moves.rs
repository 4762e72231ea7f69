//! A master of one's own beside the project's workers and clients, checked against the
//! cluster's properties: the project's master, changed in one behaviour. It sends the two
//! writes of a move (create the task's new node, delete its old one) at once, each with the
//! master's epoch check, instead of as one multi: ZooKeeper applies a session's requests in
//! order, so this looks as safe as the multi. It is not: when the connection drops between
//! the two (or the master dies), the create is applied and the delete never is, and the
//! task, assigned and still pending, is assigned again, to a second worker.
//!
//! `cargo run --release --example pipelined_moves` prints the first failing seed;
//! `tests/examples.rs` runs every checker on it.

use zksim_model::op::Request;
use zksim_model::recipes::cluster::{Flavor, Master};
use zksim_model::recipes::BuiltinRole;
use zksim_model::role::{Ctx, Effect, Either, Input, Role, Standing};
use zksim_sim::options::Options;
use zksim_sim::recipes::{cluster, Recipe};
use zksim_sim::run::first_failure;

/// The tags of the second writes, above any the master uses. Their replies are not passed
/// on: the master hears of a move by its first write's reply, as of its multi.
const SECOND: u32 = 1 << 31;

/// The project's master, whose move `multi [check /epoch, create A, delete B]` goes out as
/// `multi [check /epoch, create A]` and `multi [check /epoch, delete B]`, both at once.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pipelined(Master);

impl Role for Pipelined {
    fn handle(&mut self, input: &Input, ctx: &mut Ctx) {
        if matches!(input, Input::Reply { tag, .. } if tag & SECOND != 0) {
            return;
        }
        let master = &mut self.0;
        let multi = |ops| Request::Multi { ops };
        for effect in ctx.capture(|inner| master.handle(input, inner)) {
            match effect {
                Effect::Call {
                    tag,
                    request: Request::Multi { ops },
                } if is_move(&ops) => {
                    let [check, create, delete]: [Request; 3] = ops.try_into().expect("a move");
                    ctx.call(tag, multi(vec![check.clone(), create]));
                    ctx.call(tag | SECOND, multi(vec![check, delete]));
                }
                other => ctx.push(other),
            }
        }
    }

    fn summary(&self) -> String {
        self.0.summary()
    }

    fn standing(&self) -> Standing {
        self.0.standing()
    }
}

/// A move: the epoch check, a create, a delete.
fn is_move(ops: &[Request]) -> bool {
    use Request::{Check, Create, Delete};
    matches!(ops, [Check { .. }, Create { .. }, Delete { .. }])
}

const NAME: &str = "pipelined-moves";

/// The cluster with every master candidate a [`Pipelined`], the rest the project's own.
pub fn recipe() -> Recipe<Either<BuiltinRole, Pipelined>> {
    let swap = |role| match role {
        BuiltinRole::Master(master) => Either::Right(Pipelined(master)),
        other => Either::Left(other),
    };
    cluster::with_roles(NAME, Flavor::FIXED, swap)
        .about("a master that sends a move's create and delete at once instead of as one multi")
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let failed = first_failure(&recipe(), &Options::default(), 0..1000, false)?;
    let outcome = failed.ok_or(format!("{NAME}: no failure in 1000 seeds"))?;
    let property = &outcome.end.violations[0].property;
    println!("{NAME}: seed {} violates {property:?}", outcome.seed);
    Ok(())
}
