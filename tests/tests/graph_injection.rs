//! Injection attempts through the composed graph reach CAP as literals: filter values that try
//! to close the string (`x' or 1 eq 1`, `') or (1 eq 1`), to add query options (`&$top=1`) or to
//! smuggle an encoded quote (`%27`), keys with quotes, slashes and `%2F`, and search texts. Each
//! request is read back from the backend's own log: its query options decode to exactly the
//! planner's, with the attempt inside one quoted literal, and the answer is empty or the one
//! row that really matches, never every row. Both S/4 protocols and the CRM are tried.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use bizgraph_tests::cap::{ALICE, LoggedRequest};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions};
use serde_json::{Value, json};

/// The namespaces over S/4 and the service path each uses.
const S4: [(&str, &str); 2] = [("sap_s4", "/odata/v2/sales"), ("s4v4", "/odata/v4/sales")];

/// A logged request's path and query options, percent-decoded (`+` is not a space here: the
/// gateway encodes a `+` as `%2B`).
fn decoded(request: &LoggedRequest) -> (String, Vec<(String, String)>) {
    let (path, query) = request
        .url
        .split_once('?')
        .unwrap_or((request.url.as_str(), ""));
    let options = query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name), percent_decode(value))
        })
        .collect();
    (percent_decode(path), options)
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%'
            && let Some(hex) = text.get(index + 1..index + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            index += 3;
            continue;
        }
        out.push(bytes[index]);
        index += 1;
    }
    String::from_utf8(out).expect("the gateway sends UTF-8")
}

/// Runs `query` as alice and returns its data and the single request it caused at `backend`.
async fn one_request(
    env: &GraphEnv,
    query: &str,
    crm: bool,
) -> anyhow::Result<(Value, String, Vec<(String, String)>)> {
    env.clear_requests().await?;
    let data = env.data(ALICE, query).await?;
    let (s4, crm_log) = env.requests().await?;
    let log = if crm { crm_log } else { s4 };
    assert_eq!(log.len(), 1, "one request for {query}: {log:#?}");
    let (path, options) = decoded(&log[0]);
    Ok((data, path, options))
}

/// The value of one query option; it must be there exactly once.
fn option<'a>(options: &'a [(String, String)], name: &str) -> &'a str {
    let found: Vec<&str> = options
        .iter()
        .filter(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
        .collect();
    assert_eq!(found.len(), 1, "{name} once in {options:?}");
    found[0]
}

/// The names of the query options, in order.
fn names(options: &[(String, String)]) -> Vec<&str> {
    options.iter().map(|(name, _)| name.as_str()).collect()
}

#[tokio::test]
async fn filter_values_stay_one_string_literal() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-injection-filters", GraphOptions::both_protocols()).await?;
    // (attempt, operator, how the literal must reach the backend, rows that really match)
    let attempts = [
        (
            "x' or 1 eq 1",
            "eq",
            "BusinessPartnerFullName eq 'x'' or 1 eq 1'",
            0,
        ),
        (
            "') or (1 eq 1",
            "eq",
            "BusinessPartnerFullName eq ''') or (1 eq 1'",
            0,
        ),
        ("&$top=1", "eq", "BusinessPartnerFullName eq '&$top=1'", 0),
        (
            "%27 or 1 eq 1 or %27",
            "eq",
            "BusinessPartnerFullName eq '%27 or 1 eq 1 or %27'",
            0,
        ),
        (
            "x'); DROP TABLE s4_A_BusinessPartner; --",
            "eq",
            "BusinessPartnerFullName eq 'x''); DROP TABLE s4_A_BusinessPartner; --'",
            0,
        ),
        // Real names with the same characters find exactly their row.
        (
            "O'Neil & Sons",
            "eq",
            "BusinessPartnerFullName eq 'O''Neil & Sons'",
            1,
        ),
        (
            "Soylent \"Green\" Foods",
            "eq",
            "BusinessPartnerFullName eq 'Soylent \"Green\" Foods'",
            1,
        ),
        (
            "Fabrikam, Inc.",
            "eq",
            "BusinessPartnerFullName eq 'Fabrikam, Inc.'",
            1,
        ),
        (
            "O'Neil &",
            "startswith",
            "startswith(BusinessPartnerFullName,'O''Neil &')",
            1,
        ),
        (
            "' or '1' eq '1",
            "endswith",
            "endswith(BusinessPartnerFullName,''' or ''1'' eq ''1')",
            0,
        ),
    ];
    for (namespace, path) in S4 {
        for (attempt, operator, literal, rows) in attempts {
            let query = format!(
                "{{ {namespace} {{ A_BusinessPartner(filter: {{BusinessPartnerFullName: {{{operator}: {}}}}}) {{ totalCount nodes {{ BusinessPartnerFullName }} }} }} }}",
                Value::String(attempt.to_owned())
            );
            let (data, request_path, options) = one_request(&env, &query, false).await?;
            let connection = &data[namespace]["A_BusinessPartner"];
            let nodes = connection["nodes"].as_array().expect("a node list");
            assert_eq!(nodes.len(), rows, "{attempt:?} via {namespace}: {data}");
            for node in nodes {
                let name = node["BusinessPartnerFullName"].as_str().unwrap_or_default();
                let matches = match operator {
                    "eq" => name == attempt,
                    "startswith" => name.starts_with(attempt),
                    _ => name.ends_with(attempt),
                };
                assert!(matches, "{attempt:?} via {namespace}: {name}");
            }
            assert_eq!(
                connection["totalCount"], rows,
                "{attempt:?} via {namespace}"
            );
            assert_eq!(request_path, format!("{path}/A_BusinessPartner"));
            // Exactly the planner's options, each once: nothing was added or cut off.
            let count = if namespace == "s4v4" {
                "$count"
            } else {
                "$inlinecount"
            };
            assert_eq!(
                names(&options),
                ["$select", "$filter", "$top", count],
                "{attempt:?} via {namespace}: {options:?}"
            );
            assert_eq!(option(&options, "$top"), "1000");
            assert_eq!(
                option(&options, "$filter"),
                literal,
                "{attempt:?} via {namespace}"
            );
        }
    }

    // The CRM (v4) too, on a to-one filter path and inside `in`.
    let query = r#"{ crm { Opportunities(filter: {title: {in: ["x' or 1 eq 1", "Pilot Acme #3"]}}) { totalCount nodes { ID title } } } }"#;
    let (data, _, options) = one_request(&env, query, true).await?;
    assert_eq!(
        data["crm"]["Opportunities"],
        json!({"totalCount": 1, "nodes": [{"ID": 3, "title": "Pilot Acme #3"}]})
    );
    assert_eq!(
        option(&options, "$filter"),
        "title in ('x'' or 1 eq 1','Pilot Acme #3')"
    );
    let query = r#"{ sap_s4 { A_SalesOrder(filter: {to_SoldToParty: {BusinessPartnerFullName: {contains: "' or 1 eq 1 or '"}}}) { totalCount nodes { SalesOrder } } } }"#;
    let (data, _, options) = one_request(&env, query, false).await?;
    assert_eq!(
        data["sap_s4"]["A_SalesOrder"],
        json!({"totalCount": 0, "nodes": []})
    );
    assert_eq!(
        option(&options, "$filter"),
        "substringof(''' or 1 eq 1 or ''',to_SoldToParty/BusinessPartnerFullName)"
    );
    Ok(())
}

#[tokio::test]
async fn keys_stay_inside_their_key_predicate() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-injection-keys", GraphOptions::both_protocols()).await?;
    for (namespace, path) in S4 {
        // (key attempt, the resource path the backend must see, decoded)
        let attempts = [
            (
                "1000001') or ('1' eq '1",
                "A_BusinessPartner('1000001'') or (''1'' eq ''1')",
            ),
            (
                "1000001/to_SalesOrder",
                "A_BusinessPartner('1000001/to_SalesOrder')",
            ),
            (
                "1000001%2Fto_SalesOrder",
                "A_BusinessPartner('1000001%2Fto_SalesOrder')",
            ),
            (
                "1000001')?$top=1&x=('",
                "A_BusinessPartner('1000001'')?$top=1&x=(''')",
            ),
            (
                "../A_SalesOrder('5000000001",
                "A_BusinessPartner('../A_SalesOrder(''5000000001')",
            ),
        ];
        for (attempt, resource) in attempts {
            env.clear_requests().await?;
            let query = format!(
                "{{ {namespace} {{ A_BusinessPartnerByKey(BusinessPartner: {}) {{ BusinessPartner BusinessPartnerFullName }} }} }}",
                Value::String(attempt.to_owned())
            );
            let answer = env.query(ALICE, &query, Value::Null).await?;
            // Not found (CAP answers 404 or refuses the over-long key with 400): never a row.
            assert!(
                answer["data"][namespace]["A_BusinessPartnerByKey"].is_null(),
                "{attempt:?} via {namespace}: {answer:#}"
            );
            let (s4, _) = env.requests().await?;
            assert_eq!(s4.len(), 1, "{s4:#?}");
            // The key's own `/`, `?` and `&` stay encoded on the wire: one path segment, and
            // only the planner's `$select` as a query option.
            let (raw_path, raw_query) = s4[0].url.split_once('?').unwrap_or((&s4[0].url, ""));
            assert_eq!(
                raw_path.matches('/').count(),
                path.matches('/').count() + 1,
                "one segment below the service: {}",
                s4[0].url
            );
            assert!(raw_query.starts_with("$select="), "{}", s4[0].url);
            assert!(!raw_query.contains('&'), "{}", s4[0].url);
            assert_eq!(
                percent_decode(raw_path),
                format!("{path}/{resource}"),
                "{attempt:?} via {namespace}"
            );
        }

        // A composite key whose first part tries to supply the second.
        env.clear_requests().await?;
        let query = format!(
            r#"{{ {namespace} {{ forged: A_SalesOrderItemByKey(SalesOrder: "5000000001',SalesOrderItem='10", SalesOrderItem: "99") {{ NetAmount }}
                real: A_SalesOrderItemByKey(SalesOrder: "5000000001", SalesOrderItem: "10") {{ NetAmount }} }} }}"#
        );
        let answer = env.query(ALICE, &query, Value::Null).await?;
        assert_eq!(
            answer["data"][namespace],
            json!({"forged": null, "real": {"NetAmount": "4906.78"}}),
            "{answer:#}"
        );
        let (s4, _) = env.requests().await?;
        let forged = s4
            .iter()
            .map(|request| percent_decode(request.url.split('?').next().unwrap_or_default()))
            .find(|path| path.contains("''"))
            .expect("the forged request");
        assert_eq!(
            forged,
            format!(
                "{path}/A_SalesOrderItem(SalesOrder='5000000001'',SalesOrderItem=''10',SalesOrderItem='99')"
            )
        );
    }
    Ok(())
}

#[tokio::test]
async fn search_texts_stay_one_search_phrase() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-injection-search", GraphOptions::both_protocols()).await?;
    // (search text, the $search value the backend must see, names that match)
    let attempts: [(&str, &str, &[&str]); 6] = [
        ("Acme", "\"Acme\"", &["Acme Corporation"]),
        ("x\" OR Acme", "\"x\\\" OR Acme\"", &[]),
        ("Acme&$top=1", "\"Acme&$top=1\"", &[]),
        ("') or 1 eq 1", "\"') or 1 eq 1\"", &[]),
        ("O'Neil", "\"O'Neil\"", &["O'Neil & Sons"]),
        (
            "Soylent \"Green\"",
            "\"Soylent \\\"Green\\\"\"",
            &["Soylent \"Green\" Foods"],
        ),
    ];
    for (text, phrase, names_found) in attempts {
        let query = format!(
            "{{ s4v4 {{ A_BusinessPartner(search: {}, orderBy: {{BusinessPartner: asc}}) {{ nodes {{ BusinessPartnerFullName }} }} }} }}",
            Value::String(text.to_owned())
        );
        let (data, path, options) = one_request(&env, &query, false).await?;
        let found: Vec<&str> = data["s4v4"]["A_BusinessPartner"]["nodes"]
            .as_array()
            .expect("a node list")
            .iter()
            .map(|node| node["BusinessPartnerFullName"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(found, names_found, "{text:?}");
        assert_eq!(path, "/odata/v4/sales/A_BusinessPartner");
        assert_eq!(option(&options, "$search"), phrase, "{text:?}");
        assert_eq!(
            names(&options),
            ["$select", "$orderby", "$top", "$search"],
            "{text:?}: {options:?}"
        );
    }

    // The CRM's search too.
    let query = r#"{ crm { Opportunities(search: "Globex\" OR \"Acme") { totalCount } } }"#;
    let (data, _, options) = one_request(&env, query, true).await?;
    assert_eq!(data["crm"]["Opportunities"]["totalCount"], 0, "{data}");
    assert_eq!(option(&options, "$search"), "\"Globex\\\" OR \\\"Acme\"");
    Ok(())
}
