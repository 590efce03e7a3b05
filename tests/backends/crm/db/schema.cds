// CRM-like accounts and opportunities; `bpId` / `accountBpId` carry the S/4 BusinessPartner id
// that the gateway joins on across the two sources.
namespace crm;

entity Accounts {
  key ID            : UUID;
      name          : String(80);
      bpId          : String(10);
      region        : String(2);
      opportunities : Association to many Opportunities
                        on opportunities.account = $self;
}

entity Opportunities {
  key ID          : Integer;
      title       : String(100);
      account     : Association to Accounts;
      accountBpId : String(10);
      amount      : Decimal(15, 2);
      currency    : String(3);
      closeDate   : Date;
      stage       : String enum {
        Prospecting;
        Qualification;
        Negotiation;
        ClosedWon;
        ClosedLost;
      };
      probability : Integer;
      region      : String(2);
}

// One row of company-wide CRM settings, served as an OData singleton.
entity Settings {
  key ID              : Integer;
      companyName     : String(80);
      defaultCurrency : String(3);
      fiscalYearStart : Integer;
}
