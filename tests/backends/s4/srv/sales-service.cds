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

  // Unbound operations (implemented in sales-service.js), also offered as v2 function imports
  // by the adapter (GET for the function, POST for the action).

  /** Sales orders the caller sees with this overall status. */
  function orderCount(status : String(1)) returns Integer;

  /** Sets a sales order's overall status and returns the order. */
  action setOrderStatus(SalesOrder : String(10), status : String(1)) returns A_SalesOrder;
}
