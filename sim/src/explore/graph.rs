//! The state graph: for liveness, the strongly connected components of the fault-free part;
//! for small runs, the whole graph as Graphviz DOT with the counterexample highlighted.

use std::collections::{BTreeSet, VecDeque};

use petgraph::algo::tarjan_scc;
use petgraph::dot::{Config, Dot};
use petgraph::graph::{DiGraph, NodeIndex};

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

/// A set of fault-free states a run can never leave (a bottom strongly connected component
/// with at least one transition) in which some `Eventually` property fails in every state.
/// `failing` gives, by state id, a bit per failing property (`u32::MAX`: faults still on);
/// `edges` are the fault-free transitions (from, to, action index). Returns the component's
/// state nearest the start (the smallest id: ids are handed out breadth-first), the action
/// indices of a cycle from it back to it, and the property's bit. Of several such
/// components, the one whose nearest state has the smallest id, so the answer does not depend
/// on the order components are found in.
pub(super) fn trapping_cycle(
    failing: &[u32],
    edges: &[(u32, u32, u16)],
) -> Option<(u32, Vec<u16>, u32)> {
    let mut g: DiGraph<(), u16> = DiGraph::with_capacity(failing.len(), edges.len());
    for _ in failing {
        g.add_node(());
    }
    for &(from, to, index) in edges {
        g.add_edge(
            NodeIndex::new(from as usize),
            NodeIndex::new(to as usize),
            index,
        );
    }
    let mut component = vec![usize::MAX; failing.len()];
    let components = tarjan_scc(&g);
    for (c, members) in components.iter().enumerate() {
        for n in members {
            component[n.index()] = c;
        }
    }
    let mut best: Option<(u32, u32)> = None;
    for (c, members) in components.iter().enumerate() {
        let trapped = members.iter().all(|n| {
            g.neighbors(*n).next().is_some() && g.neighbors(*n).all(|m| component[m.index()] == c)
        });
        let mask = members.iter().fold(u32::MAX, |m, n| m & failing[n.index()]);
        if !trapped || mask == 0 || mask == u32::MAX {
            continue;
        }
        let entry = members
            .iter()
            .map(|n| n.index() as u32)
            .min()
            .expect("a member");
        if best.is_none_or(|(e, _)| entry < e) {
            best = Some((entry, mask.trailing_zeros()));
        }
    }
    let (entry, bit) = best?;
    Some((entry, cycle_through(&g, entry), bit))
}

/// The action indices of a shortest cycle from `entry` back to it (it lies in a bottom
/// component with transitions, so one exists).
fn cycle_through(g: &DiGraph<(), u16>, entry: u32) -> Vec<u16> {
    let start = NodeIndex::new(entry as usize);
    // By node: the node it was reached from and the action index taken.
    let mut reached: Vec<Option<(NodeIndex, u16)>> = vec![None; g.node_count()];
    let mut queue = VecDeque::from([start]);
    while let Some(n) = queue.pop_front() {
        for e in g.edges(n) {
            use petgraph::visit::EdgeRef;
            let m = e.target();
            if m == start {
                let mut indices = vec![*e.weight()];
                let mut at = n;
                while at != start {
                    let (from, index) = reached[at.index()].expect("reached");
                    indices.push(index);
                    at = from;
                }
                indices.reverse();
                return indices;
            }
            if reached[m.index()].is_none() {
                reached[m.index()] = Some((n, *e.weight()));
                queue.push_back(m);
            }
        }
    }
    unreachable!("a bottom component with transitions has a cycle through each member")
}

/// Whether the fault-free transitions (from, to, action index) among `states` states have a
/// cycle (a step from a state back to itself counts).
pub(super) fn has_cycle(states: usize, edges: &[(u32, u32, u16)]) -> bool {
    let mut g: DiGraph<(), ()> = DiGraph::with_capacity(states, edges.len());
    for _ in 0..states {
        g.add_node(());
    }
    for &(from, to, _) in edges {
        g.add_edge(
            NodeIndex::new(from as usize),
            NodeIndex::new(to as usize),
            (),
        );
    }
    petgraph::algo::is_cyclic_directed(&g)
}
