using crm from '../db/schema';

// Served as OData v4 only, at /odata/v4/crm. Rows are filtered by the user's `region`
// attribute; role `admin` sees and writes every row.
@path    : '/odata/v4/crm'
@requires: 'authenticated-user'
service CrmService {

  @restrict: [
    { grant: '*', to: 'admin' },
    { grant: '*', to: 'authenticated-user', where: 'region = $user.region' }
  ]
  entity Accounts      as projection on crm.Accounts;

  @restrict: [
    { grant: '*', to: 'admin' },
    { grant: '*', to: 'authenticated-user', where: 'region = $user.region' }
  ]
  entity Opportunities as projection on crm.Opportunities actions {
    /** The amount weighted by the probability (amount * probability / 100). */
    function weightedAmount() returns Decimal(15, 2);
    /** Closes the opportunity as won or lost and returns it. */
    action close(won : Boolean) returns Opportunities;
  };

  /** Company-wide settings: one instance, addressed without a key. */
  @odata.singleton
  @readonly
  entity Settings as projection on crm.Settings;

  // Unbound operations (implemented in crm-service.js); they run as the caller, so the
  // region restrictions above apply to what they read and change.

  /** The largest opportunities of at least `minAmount`, at most `count` of them. */
  function topOpportunities(minAmount : Decimal(15, 2), count : Integer) returns array of Opportunities;

  /** How many opportunities are in `stage`. */
  function opportunityCount(stage : String(20)) returns Integer;

  /** Moves an opportunity to another stage and returns it. */
  action setStage(ID : Integer, stage : String(20)) returns Opportunities;
}
