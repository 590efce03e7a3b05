//! End-to-end suites for bizgraph.
