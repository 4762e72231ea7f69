//! The state graph: for liveness, the strongly connected components of the fault-free part;
//! for small runs, the whole graph as Graphviz DOT with the counterexample highlighted.

use std::collections::{BTreeSet, VecDeque};

use petgraph::algo::TarjanScc;
use petgraph::csr::Csr;
use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};
use petgraph::visit::EdgeRef;
use petgraph::Directed;

/// A whole state graph, every state labeled with a short summary of the world.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateGraph {
    /// By state id: its label.
    labels: Vec<String>,
    /// Transitions (from, to, what happened), in the order the search took them.
    edges: Vec<(u32, u32, String)>,
    /// The counterexample's states, start first.
    path: Vec<u32>,
}

impl StateGraph {
    pub(super) fn add_state(&mut self, label: String) {
        self.labels.push(label);
    }

    pub(super) fn add_edge(&mut self, from: u32, to: u32, label: String) {
        self.edges.push((from, to, label));
    }

    pub(super) fn highlight(&mut self, path: Vec<u32>) {
        self.path = path;
    }

    /// States in the graph.
    pub fn states(&self) -> usize {
        self.labels.len()
    }

    /// Transitions in the graph (parallel edges included).
    pub fn transitions(&self) -> usize {
        self.edges.len()
    }

    /// The graph in Graphviz DOT: states labeled with their id and summary, the start state
    /// doubled, the counterexample's states and steps drawn red and thick.
    pub fn to_dot(&self) -> String {
        let mut g: DiGraph<String, (bool, &str)> = DiGraph::new();
        for (id, l) in self.labels.iter().enumerate() {
            g.add_node(format!("#{id}\n{l}"));
        }
        let on_path: BTreeSet<(u32, u32)> = self.path.windows(2).map(|w| (w[0], w[1])).collect();
        let seen: BTreeSet<u32> = self.path.iter().copied().collect();
        for (from, to, label) in &self.edges {
            let hot = on_path.contains(&(*from, *to));
            g.add_edge(
                NodeIndex::new(*from as usize),
                NodeIndex::new(*to as usize),
                (hot, label.as_str()),
            );
        }
        type Edge<'e, 'l> = petgraph::graph::EdgeReference<'e, (bool, &'l str)>;
        let edge = |_: &DiGraph<String, (bool, &str)>, e: Edge<'_, '_>| {
            let (hot, label) = *e.weight();
            let mut attrs = format!("label={label:?} fontname=monospace fontsize=10");
            if hot {
                attrs.push_str(" color=red penwidth=3");
            }
            attrs
        };
        let node = |_: &DiGraph<String, (bool, &str)>, (i, l): (NodeIndex, &String)| {
            let mut attrs = format!("label={l:?} shape=box fontname=monospace");
            if i.index() == 0 {
                attrs.push_str(" peripheries=2");
            }
            if seen.contains(&(i.index() as u32)) {
                attrs.push_str(" color=red penwidth=3");
            }
            attrs
        };
        let config = [Config::EdgeNoLabel, Config::NodeNoLabel];
        format!("{:?}", Dot::with_attr_getters(&g, &config, &edge, &node))
    }
}

/// The fault-free transitions (from, to, action index) as the search finds them. Past a
/// million they go to an anonymous temporary file (unlinked at once, so nothing is left behind
/// whatever ends the process), a million at a time: they are read only once the search is
/// done, and while it runs the frontier needs the memory (12 bytes a transition, 24 in a vector
/// just grown: about a third of the bookkeeping of `fixed` 2/2/1/1). Hand-written (a few lines
/// over `tempfile`): no crate spills a vector of plain records. If the disk refuses a write,
/// the rest stays in memory, as before.
pub(super) struct EdgeLog {
    memory: Vec<(u32, u32, u16)>,
    file: Option<std::io::BufWriter<std::fs::File>>,
    /// The disk refused a write: no more spilling.
    refused: bool,
}

impl EdgeLog {
    const CHUNK: usize = 1 << 20;
    const RECORD: usize = 10;

    pub(super) fn new() -> Self {
        EdgeLog {
            memory: Vec::new(),
            file: None,
            refused: false,
        }
    }

    pub(super) fn push(&mut self, edge: (u32, u32, u16)) {
        self.memory.push(edge);
        if self.memory.len() >= Self::CHUNK && !self.refused {
            if self.spill().is_err() {
                self.refused = true;
            } else {
                self.memory.clear();
            }
        }
    }

    fn spill(&mut self) -> std::io::Result<()> {
        use std::io::Write;
        if self.file.is_none() {
            self.file = Some(std::io::BufWriter::with_capacity(
                1 << 16,
                tempfile::tempfile()?,
            ));
        }
        let file = self.file.as_mut().expect("just made");
        for &(from, to, index) in &self.memory {
            let mut record = [0u8; Self::RECORD];
            record[..4].copy_from_slice(&from.to_le_bytes());
            record[4..8].copy_from_slice(&to.to_le_bytes());
            record[8..].copy_from_slice(&index.to_le_bytes());
            file.write_all(&record)?;
        }
        Ok(())
    }

    /// Bytes of memory held.
    pub(super) fn bytes(&self) -> usize {
        self.memory.capacity() * std::mem::size_of::<(u32, u32, u16)>()
    }

    /// Every transition logged, in the order logged.
    ///
    /// # Panics
    /// If the temporary file, written without error, cannot be read back.
    pub(super) fn into_edges(self) -> Vec<(u32, u32, u16)> {
        use std::io::{Read, Seek};
        let Some(file) = self.file else {
            return self.memory;
        };
        let mut file = file
            .into_inner()
            .expect("the transitions' temporary file flushes");
        let spilled = file
            .seek(std::io::SeekFrom::End(0))
            .expect("the transitions' temporary file seeks") as usize;
        file.seek(std::io::SeekFrom::Start(0))
            .expect("the transitions' temporary file rewinds");
        let mut edges = Vec::with_capacity(spilled / Self::RECORD + self.memory.len());
        // A chunk at a time: the file's bytes are never all in memory beside the edges.
        let mut chunk = vec![0u8; Self::RECORD << 13];
        let mut left = spilled;
        while left > 0 {
            let part = &mut chunk[..left.min(Self::RECORD << 13)];
            file.read_exact(part)
                .expect("the transitions' temporary file reads back");
            left -= part.len();
            edges.extend(part.chunks_exact(Self::RECORD).map(|r| {
                let word =
                    |at: usize| u32::from_le_bytes(r[at..at + 4].try_into().expect("4 bytes"));
                (word(0), word(4), u16::from_le_bytes([r[8], r[9]]))
            }));
        }
        edges.extend(self.memory);
        edges
    }
}

/// The fault-free part of the state graph, stored compactly for the liveness search: a
/// compressed sparse row graph (petgraph's `Csr`: 8 bytes a state, 6 a transition, where a
/// general graph takes 8 and 20), one transition kept per pair of states (parallel ones lead
/// to the same state; any one's action index will do). Searches of hundreds of millions of
/// states end here, so its size is what bounds them once the search itself is done.
pub(super) struct FaultFree {
    g: Csr<(), u16, Directed, u32>,
}

impl FaultFree {
    /// The graph of `states` states and the fault-free transitions (from, to, action index),
    /// which it takes (and sorts).
    pub(super) fn new(states: usize, mut edges: Vec<(u32, u32, u16)>) -> Self {
        edges.sort_unstable();
        edges.dedup_by_key(|e| (e.0, e.1));
        let mut g = Csr::from_sorted_edges(&edges).expect("sorted and without parallel edges");
        drop(edges);
        while g.node_count() < states {
            g.add_node(());
        }
        FaultFree { g }
    }

    /// Whether it has a cycle (a step from a state back to itself counts).
    pub(super) fn has_cycle(&self) -> bool {
        let g = &self.g;
        let mut cyclic = false;
        TarjanScc::new().run(g, |members| {
            cyclic |= members.len() > 1 || g.neighbors_slice(members[0]).contains(&members[0]);
        });
        cyclic
    }

    /// A set of fault-free states a run can never leave (a bottom strongly connected
    /// component with at least one transition) in which some `Eventually` property fails in
    /// every state. `failing` gives, by state id, a bit per failing property (`u32::MAX`:
    /// faults still on). Returns the component's state nearest the start (the smallest id:
    /// ids are handed out breadth-first), the action indices of a cycle from it back to it,
    /// and the property's bit. Of several such components, the one whose nearest state has
    /// the smallest id, so the answer does not depend on the order components are found in.
    pub(super) fn trapping_cycle(&self, failing: &[u32]) -> Option<(u32, Vec<u16>, u32)> {
        let g = &self.g;
        // By state: its component, numbered as Tarjan's algorithm finishes them. A component
        // is finished after every component it reaches, so when one is finished its members'
        // successors all have theirs.
        let mut component = vec![u32::MAX; g.node_count()];
        let mut finished = 0u32;
        let mut best: Option<(u32, u32)> = None;
        TarjanScc::new().run(g, |members| {
            let c = finished;
            finished += 1;
            for &n in members {
                component[n as usize] = c;
            }
            let trapped = members.iter().all(|&n| {
                let next = g.neighbors_slice(n);
                !next.is_empty() && next.iter().all(|&m| component[m as usize] == c)
            });
            let mask = members
                .iter()
                .fold(u32::MAX, |m, &n| m & failing[n as usize]);
            if !trapped || mask == 0 || mask == u32::MAX {
                return;
            }
            let entry = *members.iter().min().expect("a member");
            if best.is_none_or(|(e, _)| entry < e) {
                best = Some((entry, mask.trailing_zeros()));
            }
        });
        let (entry, bit) = best?;
        Some((entry, self.cycle_through(entry), bit))
    }

    /// The action indices of a shortest cycle from `entry` back to it (it lies in a bottom
    /// component with transitions, so one exists).
    fn cycle_through(&self, entry: u32) -> Vec<u16> {
        // By state: the state it was reached from and the action index taken (u32::MAX: not
        // reached).
        let mut reached: Vec<(u32, u16)> = vec![(u32::MAX, 0); self.g.node_count()];
        let mut queue = VecDeque::from([entry]);
        while let Some(n) = queue.pop_front() {
            for e in self.g.edges(n) {
                let m = e.target();
                if m == entry {
                    let mut indices = vec![*e.weight()];
                    let mut at = n;
                    while at != entry {
                        let (from, index) = reached[at as usize];
                        indices.push(index);
                        at = from;
                    }
                    indices.reverse();
                    return indices;
                }
                if reached[m as usize].0 == u32::MAX {
                    reached[m as usize] = (n, *e.weight());
                    queue.push_back(m);
                }
            }
        }
        unreachable!("a bottom component with transitions has a cycle through each member")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: past a chunk, the log goes to disk and comes back whole and in order, the
    // memory it holds staying under a chunk; below a chunk nothing is written.
    #[test]
    fn the_edge_log_spills_to_disk_and_reads_back_in_order() {
        let edges: Vec<(u32, u32, u16)> = (0..EdgeLog::CHUNK as u32 * 2 + 7)
            .map(|i| (i, i.wrapping_mul(2_654_435_761), (i % 65_536) as u16))
            .collect();
        let mut log = EdgeLog::new();
        for &e in &edges {
            log.push(e);
        }
        assert!(log.file.is_some());
        assert!(log.memory.len() < EdgeLog::CHUNK);
        assert_eq!(log.into_edges(), edges);

        let mut small = EdgeLog::new();
        small.push((1, 2, 3));
        assert!(small.file.is_none());
        assert_eq!(small.into_edges(), vec![(1, 2, 3)]);
    }
}
