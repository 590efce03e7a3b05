// Handlers of API_SALES_ORDER_SRV's unbound operations. Queries go through the service itself
// (`this.run`), so the caller's @restrict rules apply as for any OData request.
const cds = require('@sap/cds');

module.exports = class API_SALES_ORDER_SRV extends cds.ApplicationService {
  init() {
    const { A_SalesOrder } = this.entities;

    this.on('orderCount', async (req) => {
      const rows = await this.run(
        SELECT.from(A_SalesOrder).columns('SalesOrder').where({ OverallSDProcessStatus: req.data.status }),
      );
      return rows.length;
    });

    this.on('setOrderStatus', async (req) => {
      const { SalesOrder, status } = req.data;
      const found = await this.run(SELECT.one.from(A_SalesOrder).where({ SalesOrder }));
      if (!found) return req.error(404, `sales order ${SalesOrder} not found`);
      await this.run(UPDATE(A_SalesOrder, SalesOrder).with({ OverallSDProcessStatus: status }));
      return this.run(SELECT.one.from(A_SalesOrder).where({ SalesOrder }));
    });

    return super.init();
  }
};
