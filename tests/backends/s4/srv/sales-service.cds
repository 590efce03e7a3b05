using s4 from '../db/schema';

// Served as OData v4 at /odata/v4/sales and, through the v2 adapter, as OData v2 at
// /odata/v2/sales. Every entity set needs an authenticated user; partners and orders are
// filtered by the user's `region` attribute (role `admin` sees and writes every row).
@path    : '/odata/v4/sales'
@requires: 'authenticated-user'
service API_SALES_ORDER_SRV {

  @restrict: [
    { grant: '*', to: 'admin' },
    { grant: '*', to: 'authenticated-user', where: 'region = $user.region' }
  ]
  entity A_BusinessPartner as projection on s4.A_BusinessPartner;

  @requires: 'authenticated-user'
  entity A_Product         as projection on s4.A_Product;

  @restrict: [
    { grant: '*', to: 'admin' },
    { grant: '*', to: 'authenticated-user', where: 'region = $user.region' }
  ]
  entity A_SalesOrder      as projection on s4.A_SalesOrder;

  @requires: 'authenticated-user'
  entity A_SalesOrderItem  as projection on s4.A_SalesOrderItem;
}
