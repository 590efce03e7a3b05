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

    // Bound operations: `req.params[0]` is the key of the opportunity they are called on,
    // read through the service so the caller's region restriction applies.
    this.on('weightedAmount', Opportunities, async (req) => {
      const ID = req.params[0].ID ?? req.params[0];
      const found = await this.run(SELECT.one.from(Opportunities).where({ ID }));
      if (!found) return req.error(404, `opportunity ${ID} not found`);
      return Math.round(Number(found.amount) * found.probability) / 100;
    });

    this.on('close', Opportunities, async (req) => {
      const ID = req.params[0].ID ?? req.params[0];
      const found = await this.run(SELECT.one.from(Opportunities).where({ ID }));
      if (!found) return req.error(404, `opportunity ${ID} not found`);
      const stage = req.data.won ? 'ClosedWon' : 'ClosedLost';
      await this.run(UPDATE(Opportunities, ID).with({ stage, probability: req.data.won ? 100 : 0 }));
      return this.run(SELECT.one.from(Opportunities).where({ ID }));
    });

    return super.init();
  }
};
