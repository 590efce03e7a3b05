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
  entity Opportunities as projection on crm.Opportunities;
}
