//! The simulated world that drives the zksim model.
#![deny(missing_docs)]
