//! End-to-end suites for bizgraph: protocol-faithful stand-ins for SAP-only cloud services,
//! launchers for real third-party parts (tinyproxy, Python signxml), and test keys.

pub mod cap;
pub mod gateway;
pub mod graph_env;
pub mod idp;
pub mod keys;
pub mod standins;
pub mod tinyproxy;
