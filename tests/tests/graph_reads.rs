//! GraphQL reads of the composed graph give the same data as CAP itself: every filter operator
//! on every comparable type, `in`, AND within a filter object and OR across list items, nested
//! filters on a to-one navigation, multi-key ordering, paging, counts, reads by key (composite
//! keys, not found), same-service navigation, exact Decimal and Int64 values, dates, times and
//! search. Each read is asked of two namespaces over the same S/4 app, `sap_s4` through its OData
//! v2 path and `s4v4` through its OData v4 path, and compared with the answer CAP's v4 path gives
//! the same user for an OData request written by hand.
//!
//! Needs `npm ci --prefix tests/backends` (see tests/backends/README.md).

use std::collections::HashMap;

use bizgraph_tests::cap::{ALICE, BOB};
use bizgraph_tests::graph_env::{GraphEnv, GraphOptions, assert_same_data, cap_rows, comparable};
use serde_json::{Map, Value, json};

/// The namespaces compared: the S/4 app through OData v2 and through OData v4.
const NAMESPACES: [&str; 2] = ["sap_s4", "s4v4"];

/// Collection reads as alice (region EU: 20 partners, 60 orders; items and products are
/// visible to everyone), one per line:
/// `what | entity set | GraphQL arguments | the same as OData v4 query options | rows`, where rows
/// is a number or `narrowed` (some rows, fewer than without the filter).
const CASES: &str = r#"
# Strings.
string eq | A_SalesOrder | filter: {SalesOrder: {eq: "5000000003"}} | $filter=SalesOrder eq '5000000003' | 1
string ne | A_SalesOrder | filter: {OverallSDProcessStatus: {ne: "A"}}, orderBy: {SalesOrder: asc} | $filter=OverallSDProcessStatus ne 'A'&$orderby=SalesOrder | narrowed
string gt | A_SalesOrder | filter: {SalesOrder: {gt: "5000000100"}}, orderBy: {SalesOrder: asc} | $filter=SalesOrder gt '5000000100'&$orderby=SalesOrder | 10
string ge | A_SalesOrder | filter: {SalesOrder: {ge: "5000000101"}}, orderBy: {SalesOrder: asc} | $filter=SalesOrder ge '5000000101'&$orderby=SalesOrder | 10
string lt | A_SalesOrder | filter: {SalesOrder: {lt: "5000000011"}}, orderBy: {SalesOrder: asc} | $filter=SalesOrder lt '5000000011'&$orderby=SalesOrder | 5
string le | A_SalesOrder | filter: {SalesOrder: {le: "5000000011"}}, orderBy: {SalesOrder: asc} | $filter=SalesOrder le '5000000011'&$orderby=SalesOrder | 6
string in | A_SalesOrder | filter: {SoldToParty: {in: ["1000001", "1000003"]}}, orderBy: {SalesOrder: asc} | $filter=SoldToParty in ('1000001','1000003')&$orderby=SalesOrder | 6
string contains | A_BusinessPartner | filter: {BusinessPartnerFullName: {contains: "In"}}, orderBy: {BusinessPartner: asc} | $filter=contains(BusinessPartnerFullName,'In')&$orderby=BusinessPartner | narrowed
string startswith with a quote | A_BusinessPartner | filter: {BusinessPartnerFullName: {startswith: "O'Neil"}} | $filter=startswith(BusinessPartnerFullName,'O''Neil') | 1
string endswith | A_BusinessPartner | filter: {BusinessPartnerFullName: {endswith: "Inc."}}, orderBy: {BusinessPartner: asc} | $filter=endswith(BusinessPartnerFullName,'Inc.')&$orderby=BusinessPartner | 2
# Integers (Edm.Int32).
int eq | A_SalesOrderItem | filter: {ItemPosition: {eq: 3}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition eq 3&$orderby=SalesOrder,SalesOrderItem | narrowed
int ne | A_SalesOrderItem | filter: {ItemPosition: {ne: 1}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition ne 1&$orderby=SalesOrder,SalesOrderItem | narrowed
int gt | A_SalesOrderItem | filter: {ItemPosition: {gt: 3}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition gt 3&$orderby=SalesOrder,SalesOrderItem | narrowed
int ge | A_SalesOrderItem | filter: {ItemPosition: {ge: 4}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition ge 4&$orderby=SalesOrder,SalesOrderItem | narrowed
int lt | A_SalesOrderItem | filter: {ItemPosition: {lt: 2}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition lt 2&$orderby=SalesOrder,SalesOrderItem | 120
int le | A_SalesOrderItem | filter: {ItemPosition: {le: 2}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition le 2&$orderby=SalesOrder,SalesOrderItem | narrowed
int in | A_SalesOrderItem | filter: {ItemPosition: {in: [2, 4]}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=ItemPosition in (2,4)&$orderby=SalesOrder,SalesOrderItem | narrowed
# Decimals, exact: 12345678901.99 has more digits than a double keeps.
decimal eq | A_SalesOrder | filter: {TotalNetAmount: {eq: "4906.78"}} | $filter=TotalNetAmount eq 4906.78 | 1
decimal ne | A_SalesOrder | filter: {TotalNetAmount: {ne: "4906.78"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount ne 4906.78&$orderby=SalesOrder | 59
decimal gt | A_SalesOrder | filter: {TotalNetAmount: {gt: "5000"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount gt 5000&$orderby=SalesOrder | narrowed
decimal ge | A_SalesOrder | filter: {TotalNetAmount: {ge: "4906.78"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount ge 4906.78&$orderby=SalesOrder | narrowed
decimal lt | A_SalesOrder | filter: {TotalNetAmount: {lt: "1000.5"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount lt 1000.5&$orderby=SalesOrder | narrowed
decimal le | A_SalesOrder | filter: {TotalNetAmount: {le: "4906.78"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount le 4906.78&$orderby=SalesOrder | narrowed
decimal in | A_Product | filter: {Price: {in: ["12345678901.99", "1008.66"]}}, orderBy: {Product: asc} | $filter=Price in (12345678901.99,1008.66)&$orderby=Product | 2
decimal beyond double precision | A_Product | filter: {Price: {eq: "12345678901.99"}} | $filter=Price eq 12345678901.99 | 1
# Int64 above 2^53: 9007199254740993 is not a double.
int64 eq | A_Product | filter: {StockQuantity: {eq: "9007199254740993"}} | $filter=StockQuantity eq 9007199254740993 | 1
int64 gt 2^53 | A_Product | filter: {StockQuantity: {gt: "9007199254740992"}} | $filter=StockQuantity gt 9007199254740992 | 1
int64 ge one more | A_Product | filter: {StockQuantity: {ge: "9007199254740994"}} | $filter=StockQuantity ge 9007199254740994 | 0
int64 lt | A_Product | filter: {StockQuantity: {lt: 5000}}, orderBy: {Product: asc} | $filter=StockQuantity lt 5000&$orderby=Product | narrowed
int64 le negative | A_Product | filter: {StockQuantity: {le: "-1"}} | $filter=StockQuantity le -1 | 1
int64 ne | A_Product | filter: {StockQuantity: {ne: "-42"}}, orderBy: {Product: asc} | $filter=StockQuantity ne -42&$orderby=Product | 29
int64 in | A_Product | filter: {StockQuantity: {in: ["9007199254740993", "-42"]}}, orderBy: {Product: asc} | $filter=StockQuantity in (9007199254740993,-42)&$orderby=Product | 2
# Guid.
uuid eq | A_Product | filter: {ProductUUID: {eq: "33833e9b-7e78-499a-bf44-831e315b96af"}} | $filter=ProductUUID eq 33833e9b-7e78-499a-bf44-831e315b96af | 1
# Dates.
date eq | A_SalesOrder | filter: {CreationDate: {eq: "2020-09-02"}} | $filter=CreationDate eq 2020-09-02 | 1
date ge | A_SalesOrder | filter: {CreationDate: {ge: "2024-01-01"}}, orderBy: {SalesOrder: asc} | $filter=CreationDate ge 2024-01-01&$orderby=SalesOrder | narrowed
date lt | A_SalesOrder | filter: {CreationDate: {lt: "2021-01-01"}}, orderBy: {SalesOrder: asc} | $filter=CreationDate lt 2021-01-01&$orderby=SalesOrder | narrowed
date gt and le | A_SalesOrder | filter: {CreationDate: {gt: "2022-01-01", le: "2022-12-31"}}, orderBy: {SalesOrder: asc} | $filter=CreationDate gt 2022-01-01 and CreationDate le 2022-12-31&$orderby=SalesOrder | narrowed
date ne | A_SalesOrder | filter: {CreationDate: {ne: "2020-09-02"}}, orderBy: {SalesOrder: asc} | $filter=CreationDate ne 2020-09-02&$orderby=SalesOrder | 59
# Timestamps.
timestamp eq | A_SalesOrder | filter: {LastChangeDateTime: {eq: "2025-07-02T16:10:43Z"}} | $filter=LastChangeDateTime eq 2025-07-02T16:10:43Z | 1
timestamp gt | A_SalesOrder | filter: {LastChangeDateTime: {gt: "2025-01-01T00:00:00Z"}}, orderBy: {SalesOrder: asc} | $filter=LastChangeDateTime gt 2025-01-01T00:00:00Z&$orderby=SalesOrder | narrowed
timestamp le | A_SalesOrder | filter: {LastChangeDateTime: {le: "2024-06-30T23:59:59Z"}}, orderBy: {SalesOrder: asc} | $filter=LastChangeDateTime le 2024-06-30T23:59:59Z&$orderby=SalesOrder | narrowed
# Times.
time gt | A_SalesOrder | filter: {DeliveryTime: {gt: "12:00:00"}}, orderBy: {SalesOrder: asc} | $filter=DeliveryTime gt 12:00:00&$orderby=SalesOrder | narrowed
time eq | A_SalesOrder | filter: {DeliveryTime: {eq: "11:05:25"}} | $filter=DeliveryTime eq 11:05:25 | 1
# Doubles.
double gt | A_SalesOrder | filter: {Rating: {gt: 4.5}}, orderBy: {SalesOrder: asc} | $filter=Rating gt 4.5&$orderby=SalesOrder | narrowed
# Booleans.
boolean eq true | A_BusinessPartner | filter: {IsBlocked: {eq: true}}, orderBy: {BusinessPartner: asc} | $filter=IsBlocked eq true&$orderby=BusinessPartner | 2
boolean ne true | A_BusinessPartner | filter: {IsBlocked: {ne: true}}, orderBy: {BusinessPartner: asc} | $filter=IsBlocked ne true&$orderby=BusinessPartner | narrowed
boolean eq false | A_BusinessPartner | filter: {IsBlocked: {eq: false}}, orderBy: {BusinessPartner: asc} | $filter=IsBlocked eq false&$orderby=BusinessPartner | narrowed
# AND inside one object, also several operators on one field.
and within an object | A_SalesOrder | filter: {OverallSDProcessStatus: {eq: "A"}, TotalNetAmount: {gt: "5000"}}, orderBy: {SalesOrder: asc} | $filter=OverallSDProcessStatus eq 'A' and TotalNetAmount gt 5000&$orderby=SalesOrder | narrowed
range on one field | A_SalesOrder | filter: {TotalNetAmount: {gt: "1000", lt: "3000"}}, orderBy: {SalesOrder: asc} | $filter=TotalNetAmount gt 1000 and TotalNetAmount lt 3000&$orderby=SalesOrder | narrowed
# OR across list items.
or across items | A_SalesOrder | filter: [{OverallSDProcessStatus: {eq: "B"}}, {TotalNetAmount: {lt: "1000"}}], orderBy: {SalesOrder: asc} | $filter=OverallSDProcessStatus eq 'B' or TotalNetAmount lt 1000&$orderby=SalesOrder | narrowed
or of ands | A_SalesOrder | filter: [{OverallSDProcessStatus: {eq: "B"}, TotalNetAmount: {gt: "5000"}}, {SoldToParty: {eq: "1000001"}}], orderBy: {SalesOrder: asc} | $filter=(OverallSDProcessStatus eq 'B' and TotalNetAmount gt 5000) or SoldToParty eq '1000001'&$orderby=SalesOrder | narrowed
# A nested filter on a to-one navigation.
nested to-one filter | A_SalesOrder | filter: {to_SoldToParty: {BusinessPartnerCategory: {eq: "1"}}}, orderBy: {SalesOrder: asc} | $filter=to_SoldToParty/BusinessPartnerCategory eq '1'&$orderby=SalesOrder | narrowed
nested to-one filter on the region | A_SalesOrder | filter: {to_SoldToParty: {region: {eq: "EU"}}}, orderBy: {SalesOrder: asc} | $filter=to_SoldToParty/region eq 'EU'&$orderby=SalesOrder | 60
nested and own field | A_SalesOrderItem | filter: {to_Product: {Price: {gt: "5000"}}, ItemPosition: {eq: 1}}, orderBy: [{SalesOrder: asc}, {SalesOrderItem: asc}] | $filter=to_Product/Price gt 5000 and ItemPosition eq 1&$orderby=SalesOrder,SalesOrderItem | narrowed
# Ordering by several keys, both directions, as a list or in one object.
order by two keys | A_SalesOrder | orderBy: [{OverallSDProcessStatus: asc}, {TotalNetAmount: desc}] | $orderby=OverallSDProcessStatus asc,TotalNetAmount desc | 60
order by two keys in one object | A_SalesOrderItem | orderBy: {Material: desc, NetAmount: asc}, filter: {ItemPosition: {le: 2}} | $orderby=Material desc,NetAmount asc&$filter=ItemPosition le 2 | narrowed
# Paging, with the count of all matches.
top and skip | A_SalesOrder | orderBy: {SalesOrder: asc}, top: 5, skip: 10 | $orderby=SalesOrder&$top=5&$skip=10 | 5
top with a filter | A_SalesOrderItem | filter: {ItemPosition: {ge: 2}}, orderBy: [{NetAmount: desc}, {SalesOrder: asc}, {SalesOrderItem: asc}], top: 7 | $filter=ItemPosition ge 2&$orderby=NetAmount desc,SalesOrder,SalesOrderItem&$top=7 | 7
skip past the end | A_SalesOrder | orderBy: {SalesOrder: asc}, skip: 100 | $orderby=SalesOrder&$skip=100 | 0
"#;

/// Bob's orders have null delivery times and ratings; `eq: null` finds exactly those.
const NULL_CASES: &str = r#"
eq null | A_SalesOrder | filter: {Rating: {eq: null}}, orderBy: {SalesOrder: asc} | $filter=Rating eq null&$orderby=SalesOrder | narrowed
ne null | A_SalesOrder | filter: {DeliveryTime: {ne: null}}, orderBy: {SalesOrder: asc} | $filter=DeliveryTime ne null&$orderby=SalesOrder | narrowed
"#;

/// What a case expects besides equality with CAP.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Some rows, but fewer than the user sees without the filter: the filter narrowed.
    Narrowed,
    /// Exactly this many rows match.
    Rows(usize),
}

/// One collection read: GraphQL arguments and the OData query options that mean the same.
#[derive(Debug, Clone)]
struct Case<'a> {
    what: &'a str,
    set: &'a str,
    args: &'a str,
    fields: &'static str,
    odata: &'a str,
    expect: Expect,
}

const ORDER_FIELDS: &str = "SalesOrder SoldToParty OverallSDProcessStatus TotalNetAmount";
const ITEM_FIELDS: &str = "SalesOrder SalesOrderItem ItemPosition Material NetAmount";
const PARTNER_FIELDS: &str = "BusinessPartner BusinessPartnerFullName IsBlocked";
const PRODUCT_FIELDS: &str = "Product Price StockQuantity ProductUUID";

/// The cases of a table; lines starting with `#` are comments.
fn cases(table: &str) -> Vec<Case<'_>> {
    table
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| {
            let columns: Vec<&str> = line.split(" | ").collect();
            let [what, set, args, odata, expect] = columns[..] else {
                panic!("not five columns: {line}");
            };
            let fields = match set {
                "A_SalesOrder" => ORDER_FIELDS,
                "A_SalesOrderItem" => ITEM_FIELDS,
                "A_BusinessPartner" => PARTNER_FIELDS,
                _ => PRODUCT_FIELDS,
            };
            let expect = match expect {
                "narrowed" => Expect::Narrowed,
                rows => Expect::Rows(rows.parse().expect("rows is a number or `narrowed`")),
            };
            Case {
                what,
                set,
                args,
                fields,
                odata,
                expect,
            }
        })
        .collect()
}

/// Runs `case` on both namespaces as `user`, compares nodes and totalCount with CAP, and checks
/// the expectation. `totals` caches how many rows the user sees per set without a filter.
async fn same_as_cap(
    env: &GraphEnv,
    user: (&str, &str),
    case: Case<'_>,
    totals: &mut HashMap<String, u64>,
) -> anyhow::Result<()> {
    let fields: Vec<&str> = case.fields.split_whitespace().collect();
    let reference_path = format!(
        "/odata/v4/sales/{}?$count=true&$select={}&{}",
        case.set,
        fields.join(","),
        case.odata
    );
    let reference = env.s4.get_json(&reference_path, user).await?;
    let expected: Vec<Value> = cap_rows(&reference)
        .iter()
        .map(|row| project(row, &fields))
        .collect();
    let expected_count = count_of(&reference["@odata.count"]);
    if !totals.contains_key(case.set) {
        let all = env
            .s4
            .get_json(
                &format!("/odata/v4/sales/{}?$count=true&$top=0", case.set),
                user,
            )
            .await?;
        totals.insert(case.set.to_owned(), count_of(&all["@odata.count"]));
    }
    let total = totals[case.set];
    match case.expect {
        Expect::Narrowed => assert!(
            !expected.is_empty() && (expected.len() as u64) < total,
            "{}: the case should narrow {} ({total} rows) but CAP gives {}",
            case.what,
            case.set,
            expected.len()
        ),
        Expect::Rows(rows) => assert_eq!(
            expected.len(),
            rows,
            "{}: CAP's own answer has an unexpected size: {reference}",
            case.what
        ),
    }
    for namespace in NAMESPACES {
        let args = if case.args.is_empty() {
            String::new()
        } else {
            format!("({})", case.args)
        };
        let query = format!(
            "{{ {namespace} {{ {}{args} {{ totalCount nodes {{ {} }} }} }} }}",
            case.set, case.fields
        );
        let data = env.data(user, &query).await?;
        let connection = &data[namespace][case.set];
        let nodes: Vec<Value> = connection["nodes"]
            .as_array()
            .unwrap_or_else(|| panic!("{}: no nodes in {data}", case.what))
            .iter()
            .filter_map(Value::as_object)
            .map(|row| project(row, &fields))
            .collect();
        assert_eq!(
            nodes, expected,
            "{} via {namespace}: {query}\nreference {reference_path}",
            case.what
        );
        assert_eq!(
            connection["totalCount"].as_u64(),
            Some(expected_count),
            "{} via {namespace}: totalCount",
            case.what
        );
    }
    Ok(())
}

/// The named fields of a row, in a form both sides share.
fn project(row: &Map<String, Value>, fields: &[&str]) -> Value {
    Value::Object(
        fields
            .iter()
            .map(|field| {
                let value = row.get(*field).cloned().unwrap_or(Value::Null);
                ((*field).to_owned(), comparable(&value))
            })
            .collect(),
    )
}

/// `@odata.count`, which CAP writes as a number (or a string inside `$expand`).
fn count_of(value: &Value) -> u64 {
    value
        .as_u64()
        .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        .unwrap_or_else(|| panic!("not a count: {value}"))
}

#[tokio::test]
async fn every_filter_operator_matches_what_cap_returns_in_v2_and_v4() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-reads-filters", GraphOptions::both_protocols()).await?;
    let mut totals = HashMap::new();
    for case in cases(CASES) {
        same_as_cap(&env, ALICE, case, &mut totals).await?;
    }
    let mut totals = HashMap::new();
    for case in cases(NULL_CASES) {
        same_as_cap(&env, BOB, case, &mut totals).await?;
    }
    Ok(())
}

#[tokio::test]
async fn reads_by_key_match_cap_with_composite_keys_exact_numbers_and_not_found()
-> anyhow::Result<()> {
    let env = GraphEnv::start("graph-reads-keys", GraphOptions::both_protocols()).await?;
    for namespace in NAMESPACES {
        // The composite key of an item, and a Decimal with more digits than a double keeps.
        let data = env
            .data(
                ALICE,
                &format!(
                    r#"{{ {namespace} {{ A_SalesOrderItemByKey(SalesOrder: "5000000004", SalesOrderItem: "10") {{
                        SalesOrder SalesOrderItem Material RequestedQuantity NetAmount ItemPosition
                        to_Product {{ Product Price StockQuantity }} }} }} }}"#
                ),
            )
            .await?;
        let item = &data[namespace]["A_SalesOrderItemByKey"];
        let cap = env
            .s4
            .get_json(
                "/odata/v4/sales/A_SalesOrderItem(SalesOrder='5000000004',SalesOrderItem='10')?$expand=to_Product",
                ALICE,
            )
            .await?;
        assert_same_data(item, &cap, &format!("item by key via {namespace}"));
        assert_eq!(item["NetAmount"], "12345678901.99", "via {namespace}");
        assert_eq!(item["RequestedQuantity"], "8.000", "via {namespace}");
        assert_eq!(item["ItemPosition"], 1, "via {namespace}");

        // Int64 above 2^53, exact; a UUID; a Decimal with trailing zeros.
        let data = env
            .data(
                BOB,
                &format!(
                    r#"{{ {namespace} {{ p6: A_ProductByKey(Product: "HT-1006") {{ Product StockQuantity ProductUUID Weight }}
                        p5: A_ProductByKey(Product: "HT-1005") {{ Price }} }} }}"#
                ),
            )
            .await?;
        assert_eq!(
            data[namespace],
            json!({
                "p6": {"Product": "HT-1006", "StockQuantity": "9007199254740993",
                       "ProductUUID": "33833e9b-7e78-499a-bf44-831e315b96af", "Weight": "225.321"},
                "p5": {"Price": "12345678901.99"}
            }),
            "via {namespace}"
        );

        // Dates, timestamps and times read the same through v2 and v4.
        let data = env
            .data(
                ALICE,
                &format!(
                    r#"{{ {namespace} {{ A_SalesOrderByKey(SalesOrder: "5000000001") {{
                        SalesOrder CreationDate LastChangeDateTime DeliveryTime Rating TotalNetAmount _etag
                        to_SoldToParty {{ BusinessPartnerFullName CreationDate IsBlocked }} }} }} }}"#
                ),
            )
            .await?;
        let order = &data[namespace]["A_SalesOrderByKey"];
        assert_eq!(order["CreationDate"], "2020-09-02", "via {namespace}");
        // v4 passes CAP's `2025-07-02T16:10:43.000Z` on as sent; v2's `/Date(ms)/` has no
        // fraction to keep. Both are the same instant.
        assert_eq!(
            comparable(&order["LastChangeDateTime"]),
            "2025-07-02T16:10:43Z",
            "via {namespace}"
        );
        assert_eq!(order["DeliveryTime"], "11:05:25", "via {namespace}");
        assert_eq!(order["Rating"], 3.05, "via {namespace}");
        assert_eq!(order["TotalNetAmount"], "4906.78", "via {namespace}");
        assert_eq!(
            order["to_SoldToParty"],
            json!({"BusinessPartnerFullName": "O'Neil & Sons", "CreationDate": "2023-02-02", "IsBlocked": false}),
            "via {namespace}"
        );
        assert!(
            order["_etag"]
                .as_str()
                .is_some_and(|etag| etag.contains("2025-07-02T16:10:43")),
            "via {namespace}: {order}"
        );

        // A key that does not exist, and a key of a row alice may not see (CAP answers 404):
        // null, without an error.
        let answer = env
            .query(
                ALICE,
                &format!(
                    r#"{{ {namespace} {{
                        missing: A_SalesOrderItemByKey(SalesOrder: "5000000001", SalesOrderItem: "99") {{ SalesOrder }}
                        foreign: A_SalesOrderByKey(SalesOrder: "5000000002") {{ SalesOrder }}
                        own: A_SalesOrderByKey(SalesOrder: "5000000003") {{ SalesOrder }} }} }}"#
                ),
                Value::Null,
            )
            .await?;
        assert_eq!(
            answer,
            json!({"data": {namespace: {
                "missing": null, "foreign": null, "own": {"SalesOrder": "5000000003"}
            }}}),
            "via {namespace}"
        );
    }
    Ok(())
}

#[tokio::test]
async fn nested_navigation_matches_cap_expand_in_one_request_per_level() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-reads-navigation", GraphOptions::both_protocols()).await?;
    // To-one and to-many navigation with arguments, and a to-one below the to-many.
    let selection = r#"A_SalesOrder(filter: {SoldToParty: {in: ["1000001", "1000003", "1000005"]}}, orderBy: {SalesOrder: asc}) {
        totalCount
        nodes {
            SalesOrder TotalNetAmount
            to_SoldToParty { BusinessPartner BusinessPartnerFullName CreationDate }
            to_Item(filter: {ItemPosition: {le: 3}}, orderBy: {SalesOrderItem: desc}, top: 2) {
                totalCount
                nodes { SalesOrderItem Material NetAmount to_Product { Product Price StockQuantity } }
            }
        } }"#;
    let reference = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrder?$filter=SoldToParty in ('1000001','1000003','1000005')&$orderby=SalesOrder&$count=true\
             &$expand=to_SoldToParty,to_Item($filter=ItemPosition le 3;$orderby=SalesOrderItem desc;$top=2;$count=true;$expand=to_Product)",
            ALICE,
        )
        .await?;
    let orders = reference["value"].as_array().map_or(0, Vec::len);
    assert_eq!(orders, 9, "three orders per partner: {reference}");
    let with_more_items = reference["value"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|order| order["to_Item@odata.count"].as_str().unwrap_or("0") > "2")
        .count();
    assert!(
        with_more_items > 0,
        "some orders have more than two items: {reference}"
    );
    let expected = json!({"totalCount": reference["@odata.count"], "nodes": reference["value"]});

    // v4: the whole tree is one request with nested $expand options.
    env.clear_requests().await?;
    let data = env
        .data(ALICE, &format!("{{ s4v4 {{ {selection} }} }}"))
        .await?;
    assert_same_data(
        &data["s4v4"]["A_SalesOrder"],
        &expected,
        "v4 nested navigation",
    );
    let (s4, crm) = env.requests().await?;
    assert_eq!(s4.len(), 1, "one v4 request: {s4:#?}");
    assert!(s4[0].url.contains("$expand=to_SoldToParty"), "{s4:#?}");
    assert!(crm.is_empty());

    // v2 cannot narrow an expanded collection: the items come from one batched request for
    // all nine orders, grouped and paged per order by the gateway.
    env.clear_requests().await?;
    let data = env
        .data(ALICE, &format!("{{ sap_s4 {{ {selection} }} }}"))
        .await?;
    assert_same_data(
        &data["sap_s4"]["A_SalesOrder"],
        &expected,
        "v2 nested navigation",
    );
    let (s4, _) = env.requests().await?;
    assert_eq!(s4.len(), 2, "orders, then all their items at once: {s4:#?}");
    assert!(
        s4[0].url.starts_with("/odata/v2/sales/A_SalesOrder?"),
        "{s4:#?}"
    );
    assert!(
        s4[1].url.starts_with("/odata/v2/sales/A_SalesOrderItem?"),
        "{s4:#?}"
    );

    // Without arguments, v2 expands too: one request, counts from the lists.
    let plain = r#"A_SalesOrder(filter: {SoldToParty: {eq: "1000005"}}, orderBy: {SalesOrder: asc}) {
        nodes { SalesOrder to_Item { totalCount nodes { SalesOrderItem NetAmount } } } }"#;
    let reference = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrder?$filter=SoldToParty eq '1000005'&$orderby=SalesOrder\
             &$expand=to_Item($count=true;$orderby=SalesOrderItem)",
            ALICE,
        )
        .await?;
    for namespace in NAMESPACES {
        env.clear_requests().await?;
        let data = env
            .data(ALICE, &format!("{{ {namespace} {{ {plain} }} }}"))
            .await?;
        assert_same_data(
            &data[namespace]["A_SalesOrder"],
            &json!({"nodes": reference["value"]}),
            &format!("plain expand via {namespace}"),
        );
        let (s4, _) = env.requests().await?;
        assert_eq!(s4.len(), 1, "via {namespace}: {s4:#?}");
    }
    Ok(())
}

#[tokio::test]
async fn search_finds_what_cap_finds() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-reads-search", GraphOptions::both_protocols()).await?;
    let reference = env
        .s4
        .get_json(
            "/odata/v4/sales/A_BusinessPartner?$search=Industries&$orderby=BusinessPartner&$count=true",
            BOB,
        )
        .await?;
    let found = cap_rows(&reference);
    assert_eq!(
        found.len(),
        4,
        "Stark, Vandelay, Wonka and Zorg Industries: {reference}"
    );
    let data = env
        .data(
            BOB,
            r#"{ s4v4 { A_BusinessPartner(search: "Industries", orderBy: {BusinessPartner: asc}) {
                totalCount nodes { BusinessPartner BusinessPartnerFullName } } } }"#,
        )
        .await?;
    assert_same_data(
        &data["s4v4"]["A_BusinessPartner"],
        &json!({"totalCount": reference["@odata.count"], "nodes": reference["value"]}),
        "search on v4",
    );

    let reference = env
        .crm
        .get_json(
            "/odata/v4/crm/Opportunities?$search=Globex&$orderby=ID&$count=true",
            BOB,
        )
        .await?;
    assert!(!cap_rows(&reference).is_empty(), "{reference}");
    let data = env
        .data(
            BOB,
            r#"{ crm { Opportunities(search: "Globex", orderBy: {ID: asc}) {
                totalCount nodes { ID title accountBpId } } } }"#,
        )
        .await?;
    assert_same_data(
        &data["crm"]["Opportunities"],
        &json!({"totalCount": reference["@odata.count"], "nodes": reference["value"]}),
        "search on the crm",
    );
    Ok(())
}

#[tokio::test]
async fn one_navigation_under_two_aliases_keeps_each_alias_own_arguments() -> anyhow::Result<()> {
    let env = GraphEnv::start("graph-reads-aliases", GraphOptions::both_protocols()).await?;
    let first = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrderItem?$filter=SalesOrder eq '5000000011'&$orderby=SalesOrderItem&$top=1",
            ALICE,
        )
        .await?;
    let all_desc = env
        .s4
        .get_json(
            "/odata/v4/sales/A_SalesOrderItem?$filter=SalesOrder eq '5000000011'&$orderby=SalesOrderItem desc&$count=true",
            ALICE,
        )
        .await?;
    assert_eq!(all_desc["@odata.count"], 4, "{all_desc}");
    let partner = env
        .s4
        .get_json("/odata/v4/sales/A_BusinessPartner('1000031')", ALICE)
        .await?;
    for namespace in NAMESPACES {
        let data = env
            .data(
                ALICE,
                &format!(
                    r#"{{ {namespace} {{ A_SalesOrderByKey(SalesOrder: "5000000011") {{
                        first: to_Item(top: 1, orderBy: {{SalesOrderItem: asc}}) {{ nodes {{ SalesOrderItem Material }} }}
                        all: to_Item(orderBy: {{SalesOrderItem: desc}}) {{ totalCount nodes {{ SalesOrderItem NetAmount }} }}
                        count: to_Item {{ totalCount }}
                        id: to_SoldToParty {{ BusinessPartner }}
                        name: to_SoldToParty {{ BusinessPartnerFullName region }}
                    }} }} }}"#
                ),
            )
            .await?;
        let order = &data[namespace]["A_SalesOrderByKey"];
        assert_same_data(
            &order["first"],
            &json!({"nodes": first["value"]}),
            &format!("first via {namespace}"),
        );
        assert_same_data(
            &order["all"],
            &json!({"totalCount": 4, "nodes": all_desc["value"]}),
            &format!("all via {namespace}"),
        );
        assert_eq!(order["count"], json!({"totalCount": 4}), "via {namespace}");
        assert_eq!(order["id"], json!({"BusinessPartner": "1000031"}));
        assert_same_data(&order["name"], &partner, &format!("name via {namespace}"));
        assert!(order["name"]["BusinessPartnerFullName"].is_string());
    }
    Ok(())
}
