//! `bizgraph metadata inspect` end to end: the binary on real fixtures, on a broken copy, and on a
//! URL served by a local HTTP server.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Command, Output};

fn fixture(name: &str) -> PathBuf {
    let dir = match std::env::var_os("BIZGRAPH_FIXTURES") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/odata"),
    };
    dir.join(name)
}

fn bizgraph(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bizgraph"))
        .args(args)
        .output()
        .expect("the bizgraph binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("UTF-8 output")
}

#[test]
fn inspect_prints_entity_types_with_composite_keys() {
    let path = fixture("API_SALES_ORDER_SRV.v2.edmx");
    let output = bizgraph(&["metadata", "inspect", path.to_str().expect("UTF-8 path")]);
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("OData version 2.0"), "{text}");
    let entity_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("  API_SALES_ORDER_SRV.") && l.contains(" key ("))
        .collect();
    assert_eq!(entity_lines.len(), 11, "{text}");
    assert!(
        text.contains("API_SALES_ORDER_SRV.A_SalesOrderItemType key (SalesOrder, SalesOrderItem)"),
        "{text}"
    );
    assert!(text.contains("diagnostics: 0 errors, 0 warnings"), "{text}");
}

#[test]
fn inspect_json_prints_the_model_and_counts() {
    let path = fixture("TripPin.v4.xml");
    let output = bizgraph(&[
        "metadata",
        "inspect",
        "--json",
        path.to_str().expect("UTF-8 path"),
    ]);
    assert!(output.status.success(), "{output:?}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&output)).expect("JSON output");
    assert_eq!(json["metadata"]["version"], "4.0");
    assert_eq!(json["counts"]["entity_types"], 9);
    assert_eq!(json["counts"]["singletons"], 1);
    let people = &json["metadata"]["schemas"][0]["entity_types"]
        .as_array()
        .expect("entity types")
        .iter()
        .find(|t| t["name"] == "Person")
        .expect("Person")["key"];
    assert_eq!(people[0]["name"], "UserName");
}

#[test]
fn inspect_reports_line_column_and_path_of_a_broken_copy() {
    let original =
        std::fs::read_to_string(fixture("GWSAMPLE_BASIC.v2.xml")).expect("fixture readable");
    let needle = r#"<Property Name="CurrencyCode" Type="Edm.String""#;
    let at = original
        .find(needle)
        .expect("the fixture declares CurrencyCode");
    let line = original[..at].matches('\n').count() + 1;
    let column = at - original[..at].rfind('\n').map_or(0, |i| i + 1) + 1;
    let type_start = original[..at]
        .rfind(r#"<EntityType Name=""#)
        .expect("the property sits in an entity type")
        + r#"<EntityType Name=""#.len();
    let entity_type = &original
        [type_start..type_start + original[type_start..].find('"').expect("closing quote")];
    let broken = original.replacen(needle, r#"<Property Name="CurrencyCode""#, 1);
    let dir = std::env::temp_dir().join(format!("bizgraph-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("broken.xml");
    std::fs::write(&path, broken).expect("write broken copy");
    let output = bizgraph(&["metadata", "inspect", path.to_str().expect("UTF-8 path")]);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    let expected = format!(
        "line {line}, column {column}: Schema[GWSAMPLE_BASIC]/EntityType[{entity_type}]/Property[CurrencyCode]: missing attribute Type"
    );
    assert!(
        stderr.contains(&expected),
        "expected {expected}\ngot {stderr}"
    );
}

#[test]
fn inspect_fetches_a_url_with_a_plain_get() {
    let body = std::fs::read(fixture("Northwind.v4.xml")).expect("fixture readable");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("address").port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("one connection");
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = stream.read(&mut buffer).expect("read request");
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buffer[..n]);
        }
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("write head");
        stream.write_all(&body).expect("write body");
        String::from_utf8_lossy(&request).into_owned()
    });
    let url = format!("http://127.0.0.1:{port}/northwind/$metadata");
    let output = bizgraph(&["metadata", "inspect", &url]);
    let request = server.join().expect("server thread");
    assert!(
        request.starts_with("GET /northwind/$metadata HTTP/1.1\r\n"),
        "{request}"
    );
    assert!(output.status.success(), "{output:?}");
    let text = stdout(&output);
    assert!(text.contains("OData version 4.0"), "{text}");
    assert!(
        text.contains("26 entity types (11 with composite keys)"),
        "{text}"
    );
}

#[test]
fn inspect_names_the_url_and_status_of_a_failed_fetch() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a local port");
    let port = listener.local_addr().expect("address").port();
    let server = std::thread::spawn(move || {
        let (mut stream, _) = listener.accept().expect("one connection");
        let mut buffer = [0u8; 1024];
        let _ = stream.read(&mut buffer).expect("read request");
        stream
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            .expect("write response");
    });
    let url = format!("http://127.0.0.1:{port}/missing/$metadata");
    let output = bizgraph(&["metadata", "inspect", &url]);
    server.join().expect("server thread");
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert!(
        stderr.contains(&format!("GET {url} answered HTTP 404")),
        "{stderr}"
    );
}
