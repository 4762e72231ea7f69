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
