//! What the two demo services serve at run time: entity sets, their properties, keys, navigation
//! properties and who may see which row. The `$metadata` documents (`s4_v2.edmx`, `crm_v4.xml`)
//! declare the same; a test checks the two agree.

/// The OData version a service speaks, which decides URL literals, functions and wire JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// OData v2 as SAP Gateway speaks it.
    V2,
    /// OData v4 as SAP CAP speaks it.
    V4,
}

/// The type of a property.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// `Edm.String`.
    String,
    /// `Edm.Int32`.
    Int32,
    /// `Edm.Decimal` with this many digits after the point.
    Decimal { scale: u32 },
    /// `Edm.Guid`.
    Guid,
    /// `Edm.Date` (v4).
    Date,
    /// `Edm.DateTime` (v2).
    DateTime,
    /// `Edm.DateTimeOffset`.
    DateTimeOffset,
    /// An enumeration type: qualified name and member names.
    Enum {
        type_name: &'static str,
        members: &'static [&'static str],
    },
}

/// A structural property.
#[derive(Debug)]
pub(crate) struct PropertyDef {
    pub(crate) name: &'static str,
    pub(crate) kind: Kind,
    /// Longest string accepted on writes.
    pub(crate) max_length: Option<usize>,
    pub(crate) nullable: bool,
    /// `sap:filterable` / `Capabilities.FilterRestrictions/NonFilterableProperties`.
    pub(crate) filterable: bool,
    /// `sap:sortable` / `Capabilities.SortRestrictions/NonSortableProperties`.
    pub(crate) sortable: bool,
    /// Set by the service, ignored in request bodies (ETag timestamps, derived amounts).
    pub(crate) computed: bool,
}

impl PropertyDef {
    const fn new(name: &'static str, kind: Kind) -> PropertyDef {
        PropertyDef {
            name,
            kind,
            max_length: None,
            nullable: true,
            filterable: true,
            sortable: true,
            computed: false,
        }
    }

    const fn max(mut self, length: usize) -> PropertyDef {
        self.max_length = Some(length);
        self
    }

    const fn required(mut self) -> PropertyDef {
        self.nullable = false;
        self
    }

    const fn not_filterable(mut self) -> PropertyDef {
        self.filterable = false;
        self
    }

    const fn not_sortable(mut self) -> PropertyDef {
        self.sortable = false;
        self
    }

    const fn computed(mut self) -> PropertyDef {
        self.computed = true;
        self
    }
}

/// A navigation property: the target set, whether it leads to many rows, and the join as pairs
/// of (own property, target property).
#[derive(Debug)]
pub(crate) struct NavDef {
    pub(crate) name: &'static str,
    pub(crate) target: &'static str,
    pub(crate) many: bool,
    pub(crate) join: &'static [(&'static str, &'static str)],
}

/// Who sees a row.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Visibility {
    /// Every user.
    All,
    /// Users whose region equals this property.
    Region(&'static str),
    /// Users who see the row this to-one navigation property leads to.
    Parent(&'static str),
}

/// An entity set with its entity type.
#[derive(Debug)]
pub(crate) struct EntitySetDef {
    pub(crate) name: &'static str,
    /// Unqualified entity type name.
    pub(crate) type_name: &'static str,
    pub(crate) properties: &'static [PropertyDef],
    pub(crate) keys: &'static [&'static str],
    pub(crate) navigations: &'static [NavDef],
    /// The property whose value is the ETag (`ConcurrencyMode="Fixed"` /
    /// `Core.OptimisticConcurrency`).
    pub(crate) etag: Option<&'static str>,
    pub(crate) visibility: Visibility,
    pub(crate) creatable: bool,
    pub(crate) updatable: bool,
    pub(crate) deletable: bool,
}

impl EntitySetDef {
    /// The index of a property.
    pub(crate) fn property(&self, name: &str) -> Option<usize> {
        self.properties.iter().position(|p| p.name == name)
    }

    /// The index of a navigation property.
    pub(crate) fn navigation(&self, name: &str) -> Option<usize> {
        self.navigations.iter().position(|n| n.name == name)
    }

    /// The indexes of the key properties, in key order.
    pub(crate) fn key_indexes(&self) -> impl Iterator<Item = usize> + '_ {
        self.keys.iter().filter_map(|key| self.property(key))
    }
}

/// A service: dialect, root path, `$metadata` text and entity sets.
#[derive(Debug)]
pub(crate) struct Service {
    pub(crate) dialect: Dialect,
    /// Path of the service root, without a trailing slash.
    pub(crate) root: &'static str,
    pub(crate) namespace: &'static str,
    pub(crate) metadata: &'static str,
    pub(crate) sets: &'static [EntitySetDef],
    /// Whether modifying requests need SAP's `X-CSRF-Token`.
    pub(crate) csrf: bool,
}

impl Service {
    /// The index of an entity set.
    pub(crate) fn set(&self, name: &str) -> Option<usize> {
        self.sets.iter().position(|s| s.name == name)
    }

    /// The index of an entity set that must exist (names in [`NavDef::target`]).
    pub(crate) fn target(&self, name: &str) -> usize {
        self.set(name)
            .expect("navigation targets name entity sets of the same service")
    }
}

use Kind as K;
use PropertyDef as P;

/// Root path of the S/4-like service.
pub(crate) const S4_ROOT: &str = "/sap/opu/odata/sap/API_SALES_ORDER_SRV";
/// Root path of the CRM-like service.
pub(crate) const CRM_ROOT: &str = "/odata/v4/crm";

/// The S/4-like OData v2 service `API_SALES_ORDER_SRV`.
pub(crate) static S4: Service = Service {
    dialect: Dialect::V2,
    root: S4_ROOT,
    namespace: "API_SALES_ORDER_SRV",
    metadata: include_str!("s4_v2.edmx"),
    csrf: true,
    sets: &[
        EntitySetDef {
            name: "A_BusinessPartner",
            type_name: "A_BusinessPartnerType",
            properties: &[
                P::new("BusinessPartner", K::String).max(10).required(),
                P::new("BusinessPartnerFullName", K::String).max(81),
                P::new("BusinessPartnerCategory", K::String).max(1),
                P::new("Region", K::String).max(3),
                P::new("CreationDate", K::DateTime),
            ],
            keys: &["BusinessPartner"],
            navigations: &[NavDef {
                name: "to_SalesOrder",
                target: "A_SalesOrder",
                many: true,
                join: &[("BusinessPartner", "SoldToParty")],
            }],
            etag: None,
            visibility: Visibility::Region("Region"),
            creatable: true,
            updatable: true,
            deletable: false,
        },
        EntitySetDef {
            name: "A_Product",
            type_name: "A_ProductType",
            properties: &[
                P::new("Product", K::String).max(40).required(),
                P::new("ProductDescription", K::String)
                    .max(40)
                    .not_sortable(),
                P::new("BaseUnit", K::String).max(3),
                P::new("NetWeight", K::Decimal { scale: 3 }).not_filterable(),
                P::new("Price", K::Decimal { scale: 2 }),
                P::new("Currency", K::String).max(5),
            ],
            keys: &["Product"],
            navigations: &[],
            etag: None,
            visibility: Visibility::All,
            creatable: false,
            updatable: false,
            deletable: false,
        },
        EntitySetDef {
            name: "A_SalesOrder",
            type_name: "A_SalesOrderType",
            properties: &[
                P::new("SalesOrder", K::String).max(10).required(),
                P::new("SoldToParty", K::String).max(10),
                P::new("Region", K::String).max(3),
                P::new("TotalNetAmount", K::Decimal { scale: 2 }).computed(),
                P::new("TransactionCurrency", K::String).max(5),
                P::new("CreationDate", K::DateTime),
                P::new("LastChangeDateTime", K::DateTimeOffset).computed(),
            ],
            keys: &["SalesOrder"],
            navigations: &[
                NavDef {
                    name: "to_Item",
                    target: "A_SalesOrderItem",
                    many: true,
                    join: &[("SalesOrder", "SalesOrder")],
                },
                NavDef {
                    name: "to_SoldToParty",
                    target: "A_BusinessPartner",
                    many: false,
                    join: &[("SoldToParty", "BusinessPartner")],
                },
            ],
            etag: Some("LastChangeDateTime"),
            visibility: Visibility::Region("Region"),
            creatable: true,
            updatable: true,
            deletable: true,
        },
        EntitySetDef {
            name: "A_SalesOrderItem",
            type_name: "A_SalesOrderItemType",
            properties: &[
                P::new("SalesOrder", K::String).max(10).required(),
                P::new("SalesOrderItem", K::String).max(6).required(),
                P::new("Material", K::String).max(40),
                P::new("RequestedQuantity", K::Decimal { scale: 3 }),
                P::new("NetAmount", K::Decimal { scale: 2 }).computed(),
            ],
            keys: &["SalesOrder", "SalesOrderItem"],
            navigations: &[
                NavDef {
                    name: "to_SalesOrder",
                    target: "A_SalesOrder",
                    many: false,
                    join: &[("SalesOrder", "SalesOrder")],
                },
                NavDef {
                    name: "to_Product",
                    target: "A_Product",
                    many: false,
                    join: &[("Material", "Product")],
                },
            ],
            etag: None,
            visibility: Visibility::Parent("to_SalesOrder"),
            creatable: true,
            updatable: true,
            deletable: true,
        },
    ],
};

/// Members of `CrmService.OpportunityStage`, in value order (0, 1, ...).
pub(crate) const STAGES: &[&str] = &[
    "Prospecting",
    "Qualification",
    "Proposal",
    "Negotiation",
    "ClosedWon",
    "ClosedLost",
];

/// The CRM-like OData v4 service `CrmService`.
pub(crate) static CRM: Service = Service {
    dialect: Dialect::V4,
    root: CRM_ROOT,
    namespace: "CrmService",
    metadata: include_str!("crm_v4.xml"),
    csrf: false,
    sets: &[
        EntitySetDef {
            name: "Accounts",
            type_name: "Accounts",
            properties: &[
                P::new("ID", K::Guid).required(),
                P::new("name", K::String).max(111),
                P::new("bpId", K::String).max(10),
                P::new("region", K::String).max(3),
            ],
            keys: &["ID"],
            navigations: &[NavDef {
                name: "opportunities",
                target: "Opportunities",
                many: true,
                join: &[("ID", "account_ID")],
            }],
            etag: None,
            visibility: Visibility::Region("region"),
            creatable: true,
            updatable: true,
            deletable: true,
        },
        EntitySetDef {
            name: "Opportunities",
            type_name: "Opportunities",
            properties: &[
                P::new("ID", K::Int32).required(),
                P::new("title", K::String).max(100).not_sortable(),
                P::new("account_ID", K::Guid),
                P::new("accountBpId", K::String).max(10),
                P::new("amount", K::Decimal { scale: 2 }),
                P::new("currency", K::String).max(3),
                P::new("closeDate", K::Date),
                P::new(
                    "stage",
                    K::Enum {
                        type_name: "CrmService.OpportunityStage",
                        members: STAGES,
                    },
                ),
                P::new("probability", K::Int32).not_filterable(),
                P::new("region", K::String).max(3),
                P::new("modifiedAt", K::DateTimeOffset).computed(),
            ],
            keys: &["ID"],
            navigations: &[NavDef {
                name: "account",
                target: "Accounts",
                many: false,
                join: &[("account_ID", "ID")],
            }],
            etag: Some("modifiedAt"),
            visibility: Visibility::Region("region"),
            creatable: true,
            updatable: true,
            deletable: true,
        },
    ],
};
