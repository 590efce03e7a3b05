//! The bizgraph gateway library. Filled in step by step.
