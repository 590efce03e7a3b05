// Handlers of CrmService's unbound operations. Queries go through the service itself
// (`this.run`), so the caller's @restrict rules apply as for any OData request.
const cds = require('@sap/cds');

module.exports = class CrmService extends cds.ApplicationService {
  init() {
    const { Opportunities } = this.entities;

    this.on('topOpportunities', async (req) => {
      const { minAmount, count } = req.data;
      return this.run(
        SELECT.from(Opportunities)
          .where({ amount: { '>=': minAmount } })
          .orderBy('amount desc', 'ID asc')
          .limit(count),
      );
    });

    this.on('opportunityCount', async (req) => {
      const rows = await this.run(
        SELECT.from(Opportunities).columns('ID').where({ stage: req.data.stage }),
      );
      return rows.length;
    });

    this.on('setStage', async (req) => {
      const { ID, stage } = req.data;
      const found = await this.run(SELECT.one.from(Opportunities).where({ ID }));
      if (!found) return req.error(404, `opportunity ${ID} not found`);
      await this.run(UPDATE(Opportunities, ID).with({ stage }));
      return this.run(SELECT.one.from(Opportunities).where({ ID }));
    });

    return super.init();
  }
};
