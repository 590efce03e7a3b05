//! The rows of the demo services, generated deterministically, and the relations between them:
//! following a navigation property, who sees a row, derived amounts.
//!
//! S/4: 12 business partners `10100001`..`10100012` (odd numbers in region `EU`, even in `US`),
//! 10 products `HT-1000`..`HT-1070` (visible to everyone), 30 sales orders `5000001 + i` for
//! `i` in `0..30` (sold to partner index `i % 12`, whose region they share, so odd order numbers
//! are `EU`), each with `1 + i % 3` items `10`, `20`, `30`. CRM: one account per partner (same
//! name, `bpId` and region; ID `a0000000-0000-4000-8000-0000000000NN`) and 40 opportunities
//! (ID `i + 1` belongs to account index `i % 12`, so odd IDs are `EU`).

use super::model::{EntitySetDef, STAGES, Service, Visibility};
use super::value::{DAY_MS, Decimal, Value, days_from_civil, equals};

/// One row: values in the order of [`EntitySetDef::properties`].
pub(crate) type Row = Vec<Value>;

/// The rows of one service, one table per entity set (same order as [`Service::sets`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct Store {
    pub(crate) tables: Vec<Vec<Row>>,
}

impl Store {
    /// The row a to-one navigation property leads to, by index.
    pub(crate) fn follow_one(
        &self,
        service: &Service,
        set: usize,
        row: &Row,
        navigation: usize,
    ) -> Option<usize> {
        self.related(service, set, row, navigation).next()
    }

    /// The rows a navigation property leads to, by index (all rows, visible or not).
    pub(crate) fn related<'a>(
        &'a self,
        service: &Service,
        set: usize,
        row: &'a Row,
        navigation: usize,
    ) -> impl Iterator<Item = usize> + 'a {
        let def = &service.sets[set];
        let nav = &def.navigations[navigation];
        let target = service.target(nav.target);
        let target_def = &service.sets[target];
        let pairs: Vec<(usize, usize)> = nav
            .join
            .iter()
            .filter_map(|(own, other)| Some((def.property(own)?, target_def.property(other)?)))
            .collect();
        self.tables[target]
            .iter()
            .enumerate()
            .filter(move |(_, candidate)| {
                pairs.iter().all(|&(own, other)| {
                    !row[own].is_null() && equals(&row[own], &candidate[other])
                })
            })
            .map(|(index, _)| index)
    }

    /// Whether `region` (the user's) may see a row.
    pub(crate) fn visible(&self, service: &Service, set: usize, row: &Row, region: &str) -> bool {
        let def = &service.sets[set];
        match def.visibility {
            Visibility::All => true,
            Visibility::Region(property) => def
                .property(property)
                .is_some_and(|index| row[index].as_str() == Some(region)),
            Visibility::Parent(navigation) => {
                let Some(navigation) = def.navigation(navigation) else {
                    return false;
                };
                let parent_set = service.target(def.navigations[navigation].target);
                self.follow_one(service, set, row, navigation)
                    .is_some_and(|parent| {
                        self.visible(
                            service,
                            parent_set,
                            &self.tables[parent_set][parent],
                            region,
                        )
                    })
            }
        }
    }

    /// Removes rows whose parent (see [`Visibility::Parent`]) no longer exists, as the
    /// `OnDelete Action="Cascade"` of the sales order to item association demands.
    pub(crate) fn remove_orphans(&mut self, service: &Service) {
        for (set, def) in service.sets.iter().enumerate() {
            let Visibility::Parent(navigation) = def.visibility else {
                continue;
            };
            let Some(navigation) = def.navigation(navigation) else {
                continue;
            };
            let keep: Vec<bool> = self.tables[set]
                .iter()
                .map(|row| self.follow_one(service, set, row, navigation).is_some())
                .collect();
            let mut flags = keep.into_iter();
            self.tables[set].retain(|_| flags.next().unwrap_or(true));
        }
    }
}

/// Index of a property that the model declares.
fn at(def: &EntitySetDef, property: &str) -> usize {
    def.property(property)
        .expect("the data generator names declared properties")
}

/// Recomputes what the S/4 service derives: an item's net amount is its quantity times the
/// product's price; an order's total is the sum of its items.
pub(crate) fn derive_s4(service: &Service, store: &mut Store) {
    let (Some(orders), Some(items), Some(products)) = (
        service.set("A_SalesOrder"),
        service.set("A_SalesOrderItem"),
        service.set("A_Product"),
    ) else {
        return;
    };
    let (order_def, item_def, product_def) = (
        &service.sets[orders],
        &service.sets[items],
        &service.sets[products],
    );
    let to_product = item_def
        .navigation("to_Product")
        .expect("items lead to products");
    let (quantity, net, price) = (
        at(item_def, "RequestedQuantity"),
        at(item_def, "NetAmount"),
        at(product_def, "Price"),
    );
    let amounts: Vec<Value> = store.tables[items]
        .iter()
        .map(|item| {
            let product = store.follow_one(service, items, item, to_product);
            match (
                &item[quantity],
                product.map(|p| &store.tables[products][p][price]),
            ) {
                (Value::Decimal(quantity), Some(Value::Decimal(price))) => {
                    Value::Decimal(quantity.mul(*price).round(2))
                }
                _ => Value::Null,
            }
        })
        .collect();
    for (item, amount) in store.tables[items].iter_mut().zip(amounts) {
        item[net] = amount;
    }
    let (order_key, item_order, total) = (
        at(order_def, "SalesOrder"),
        at(item_def, "SalesOrder"),
        at(order_def, "TotalNetAmount"),
    );
    let totals: Vec<Decimal> = store.tables[orders]
        .iter()
        .map(|order| {
            store.tables[items]
                .iter()
                .filter(|item| equals(&item[item_order], &order[order_key]))
                .filter_map(|item| match &item[net] {
                    Value::Decimal(amount) => Some(*amount),
                    _ => None,
                })
                .fold(Decimal::new(0, 2), Decimal::add)
        })
        .collect();
    for (order, sum) in store.tables[orders].iter_mut().zip(totals) {
        order[total] = Value::Decimal(sum.round(2));
    }
}

/// Business partners: name, category (1 person, 2 organization).
const PARTNERS: [(&str, &str); 12] = [
    ("Müller Maschinenbau GmbH", "2"),
    ("Acme Corporation", "2"),
    ("O'Neil & Partners Ltd", "2"),
    ("Globex Inc.", "2"),
    ("Dupont Industries SA", "2"),
    ("Initech LLC", "2"),
    ("Anna Schmidt", "1"),
    ("John Carter", "1"),
    ("Nordlicht Energie AG", "2"),
    ("Stark Logistics Corp.", "2"),
    ("Rossi Alimentari S.p.A.", "2"),
    ("Maria Garcia", "1"),
];

/// Products: id, description, base unit, net weight, price (EUR).
const PRODUCTS: [(&str, &str, &str, &str, &str); 10] = [
    ("HT-1000", "Notebook Basic 15", "EA", "4.200", "956.00"),
    ("HT-1001", "Notebook Basic 17", "EA", "4.500", "1249.00"),
    ("HT-1002", "Notebook Basic 18", "EA", "4.800", "1570.00"),
    (
        "HT-1010",
        "Notebook Professional 15",
        "EA",
        "4.300",
        "1999.00",
    ),
    ("HT-1020", "ITelO Vault", "EA", "0.160", "299.00"),
    ("HT-1030", "Flat Screen 21", "EA", "4.200", "399.00"),
    (
        "HT-1040",
        "Laser Professional Eco",
        "EA",
        "32.000",
        "830.00",
    ),
    ("HT-1050", "Laser Allround Pro", "EA", "23.000", "1299.00"),
    ("HT-1060", "Cordless Mouse", "EA", "0.090", "9.00"),
    ("HT-1070", "Beam Breaker B-1", "EA", "0.550", "469.50"),
];

/// The region of partner (and account) `index`: even indexes (ids ending in an odd digit) are
/// `EU`.
pub(crate) fn region_of(index: usize) -> &'static str {
    if index.is_multiple_of(2) { "EU" } else { "US" }
}

/// The business partner id of partner `index`.
pub(crate) fn partner_id(index: usize) -> String {
    (10_100_001 + index).to_string()
}

/// The account id of account `index`.
pub(crate) fn account_id(index: usize) -> String {
    format!("a0000000-0000-4000-8000-{:012}", index + 1)
}

fn text(value: &str) -> Value {
    Value::String(value.to_owned())
}

fn decimal(value: &str) -> Value {
    Value::Decimal(Decimal::parse(value).expect("the generator writes valid decimals"))
}

/// Midnight of a day in 2024, counted from January 1st.
fn day_2024(day: usize) -> i64 {
    days_from_civil(2024, 1, 1) + i64::try_from(day).expect("small")
}

/// The S/4 service's rows.
pub(crate) fn s4_store(service: &Service) -> Store {
    let mut store = Store {
        tables: vec![Vec::new(); service.sets.len()],
    };
    let partners = service.set("A_BusinessPartner").expect("declared");
    for (index, (name, category)) in PARTNERS.iter().enumerate() {
        let created = days_from_civil(2023, 1, 15) + 17 * i64::try_from(index).expect("small");
        store.tables[partners].push(vec![
            Value::String(partner_id(index)),
            text(name),
            text(category),
            text(region_of(index)),
            Value::DateTime(created * DAY_MS),
        ]);
    }
    let products = service.set("A_Product").expect("declared");
    for (id, description, unit, weight, price) in PRODUCTS {
        store.tables[products].push(vec![
            text(id),
            text(description),
            text(unit),
            decimal(weight),
            decimal(price),
            text("EUR"),
        ]);
    }
    let orders = service.set("A_SalesOrder").expect("declared");
    let items = service.set("A_SalesOrderItem").expect("declared");
    for index in 0..30 {
        let id = (5_000_001 + index).to_string();
        let partner = index % 12;
        let created = day_2024(3 * index);
        let minutes = i64::try_from(9 * 60 + 7 * index).expect("small");
        store.tables[orders].push(vec![
            Value::String(id.clone()),
            Value::String(partner_id(partner)),
            text(region_of(partner)),
            Value::Null,
            text("EUR"),
            Value::DateTime(created * DAY_MS),
            Value::DateTimeOffset(created * DAY_MS + minutes * 60_000),
        ]);
        for item in 0..1 + index % 3 {
            let quantity = i128::try_from(1 + (index + item) % 5).expect("small") * 1000;
            store.tables[items].push(vec![
                Value::String(id.clone()),
                Value::String((10 * (item + 1)).to_string()),
                text(PRODUCTS[(3 * index + 7 * item) % 10].0),
                Value::Decimal(Decimal::new(quantity, 3)),
                Value::Null,
            ]);
        }
    }
    derive_s4(service, &mut store);
    store
}

/// Opportunity titles, picked in turn.
const TOPICS: [&str; 5] = [
    "Notebook refresh",
    "Printer fleet",
    "Screens rollout",
    "Service contract",
    "Mobile devices",
];

/// Probability by stage, in [`STAGES`] order.
const PROBABILITY: [i64; 6] = [10, 25, 50, 75, 100, 0];

/// The CRM service's rows.
pub(crate) fn crm_store(service: &Service) -> Store {
    let mut store = Store {
        tables: vec![Vec::new(); service.sets.len()],
    };
    let accounts = service.set("Accounts").expect("declared");
    for (index, (name, _)) in PARTNERS.iter().enumerate() {
        store.tables[accounts].push(vec![
            Value::Guid(account_id(index)),
            text(name),
            Value::String(partner_id(index)),
            text(region_of(index)),
        ]);
    }
    let opportunities = service.set("Opportunities").expect("declared");
    let modified = (days_from_civil(2024, 1, 15) * DAY_MS) + 8 * 3_600_000;
    for index in 0..40 {
        let account = index % 12;
        let stage = index % 6;
        let amount = 500_000 + 125_025 * i128::try_from(index).expect("small");
        let (currency, region) = if region_of(account) == "EU" {
            ("EUR", "EU")
        } else {
            ("USD", "US")
        };
        store.tables[opportunities].push(vec![
            Value::Int(i64::try_from(index + 1).expect("small")),
            Value::String(format!("{} {}", TOPICS[index % 5], PARTNERS[account].0)),
            Value::Guid(account_id(account)),
            Value::String(partner_id(account)),
            Value::Decimal(Decimal::new(amount, 2)),
            text(currency),
            Value::Date(days_from_civil(2024, 2, 1) + 9 * i64::try_from(index).expect("small")),
            Value::Enum(i64::try_from(stage).expect("small"), STAGES[stage]),
            Value::Int(PROBABILITY[stage]),
            text(region),
            Value::DateTimeOffset(modified + i64::try_from(index).expect("small") * 3_600_000),
        ]);
    }
    store
}
