//! Placeholder: the child-set emulating java.util.HashSet<String> iteration order.
