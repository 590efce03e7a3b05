// S/4HANA-like sales data: names follow the public API_SALES_ORDER_SRV / API_BUSINESS_PARTNER
// services; the types cover every EDM kind the gateway must handle.
namespace s4;

entity A_BusinessPartner {
  key BusinessPartner         : String(10);
      BusinessPartnerFullName : String(80);
      BusinessPartnerCategory : String(1);
      region                  : String(2);
      CreationDate            : Date;
      IsBlocked               : Boolean;
      to_SalesOrder           : Association to many A_SalesOrder
                                  on to_SalesOrder.SoldToParty = BusinessPartner;
}

entity A_Product {
  key Product            : String(18);
      ProductDescription : String(40);
      BaseUnit           : String(3);
      Weight             : Decimal(13, 3);
      Price              : Decimal(15, 2);
      StockQuantity      : Integer64;
      ProductUUID        : UUID;
}

entity A_SalesOrder {
  key SalesOrder             : String(10);
      SoldToParty            : String(10);
      to_SoldToParty         : Association to one A_BusinessPartner
                                 on to_SoldToParty.BusinessPartner = SoldToParty;
      region                 : String(2);
      TotalNetAmount         : Decimal(15, 2);
      TransactionCurrency    : String(3);
      CreationDate           : Date;
      @cds.on.insert: $now
      @cds.on.update: $now
      @odata.etag
      LastChangeDateTime     : Timestamp;
      DeliveryTime           : Time;
      OverallSDProcessStatus : String(1);
      Rating                 : Double;
      to_Item                : Composition of many A_SalesOrderItem
                                 on to_Item.SalesOrder = SalesOrder;
}

entity A_SalesOrderItem {
  key SalesOrder        : String(10);
  key SalesOrderItem    : String(6);
      Material          : String(18);
      to_Product        : Association to one A_Product
                            on to_Product.Product = Material;
      RequestedQuantity : Decimal(15, 3);
      NetAmount         : Decimal(15, 2);
      ItemPosition      : Integer;
      to_SalesOrder     : Association to one A_SalesOrder
                            on to_SalesOrder.SalesOrder = SalesOrder;
}
