//! Temporary stand-in until children.rs lands.
#![allow(missing_docs)]
use std::collections::BTreeSet;
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChildSet(BTreeSet<String>);
impl ChildSet {
    pub fn new() -> Self { Self::default() }
    pub fn insert(&mut self, n: &str) -> bool { self.0.insert(n.to_string()) }
    pub fn remove(&mut self, n: &str) -> bool { self.0.remove(n) }
    pub fn contains(&self, n: &str) -> bool { self.0.contains(n) }
    pub fn len(&self) -> usize { self.0.len() }
    pub fn is_empty(&self) -> bool { self.0.is_empty() }
    pub fn iter(&self) -> impl Iterator<Item = &str> { self.0.iter().map(String::as_str) }
    pub fn ordered(&self, _o: ChildOrder, _salt: u64) -> Vec<String> { self.0.iter().cloned().collect() }
}
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ChildOrder { #[default] Java, Sorted, Shuffled { seed: u64 } }
