//! `bizgraph demo`, the README's first command, run as the binary: it serves on the address it
//! prints, and the `curl` commands it prints answer with data across both demo systems.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::Value;

/// Kills the demo when the test ends, passed or not.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs one printed command exactly as a user would paste it into a shell.
fn shell(command: &str) -> Value {
    let output = Command::new("sh")
        .args(["-c", command])
        .output()
        .expect("sh runs");
    assert!(output.status.success(), "{command}: {output:?}");
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("{command}: not JSON ({e}): {output:?}"))
}

#[test]
fn demo_prints_commands_that_answer_across_both_systems() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bizgraph"))
        .args(["demo", "--listen", "127.0.0.1:0"])
        .env("BIZGRAPH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let _running = Running(child);

    // The banner: the URL, the users, then the commands to try.
    let mut lines = BufReader::new(stdout).lines();
    let mut printed = Vec::new();
    while printed
        .iter()
        .filter(|l: &&String| l.contains("curl "))
        .count()
        < 2
    {
        let line = lines
            .next()
            .expect("the demo prints its commands before serving")
            .expect("stdout is text");
        printed.push(line);
    }
    let banner = printed.join("\n");
    assert!(banner.contains("/graphql"), "{banner}");
    assert!(
        banner.contains("alice:alice") && banner.contains("bob:bob"),
        "{banner}"
    );
    let commands: Vec<&str> = printed
        .iter()
        .map(|line| line.trim())
        .filter(|line| line.starts_with("curl "))
        .collect();

    // GraphQL as alice: opportunities from the CRM (v4) with their partners from S/4 (v2).
    let graphql = shell(commands[0]);
    assert_eq!(graphql.get("errors"), None, "{graphql}");
    let nodes = graphql["data"]["crm"]["Opportunities"]["nodes"]
        .as_array()
        .unwrap_or_else(|| panic!("opportunities: {graphql}"));
    assert!(!nodes.is_empty(), "{graphql}");
    assert!(
        nodes
            .iter()
            .all(|n| n["partner"]["BusinessPartnerFullName"].is_string()),
        "every opportunity has its S/4 partner: {graphql}"
    );
    assert!(
        nodes.iter().any(|n| n["partner"]["to_SalesOrder"]["nodes"]
            .as_array()
            .is_some_and(|orders| !orders.is_empty())),
        "a partner has sales orders: {graphql}"
    );

    // OData v4 as bob: the same graph through the OData endpoint, expand across systems.
    let odata = shell(commands[1]);
    let rows = odata["value"]
        .as_array()
        .unwrap_or_else(|| panic!("{odata}"));
    assert_eq!(rows.len(), 3, "$top=3: {odata}");
    assert!(
        rows.iter()
            .all(|row| row["partner"]["BusinessPartnerFullName"].is_string()),
        "{odata}"
    );
}
