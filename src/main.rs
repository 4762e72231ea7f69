//! The `zksim` command line.

fn main() {
    println!("zksim");
}
