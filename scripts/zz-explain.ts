import { Client } from 'pg';
(async () => {
  const c = new Client({ connectionString: 'postgres://postgres@127.0.0.1:55731/kapman_full' });
  await c.connect();
  const orig = c.query.bind(c);
  (c as any).query = async (text: any, values?: any) => {
    if (typeof text === 'string' && /WITH labels/.test(text)) {
      for (let i = 0; i < 2; i++) {
        const r = await orig(`EXPLAIN (ANALYZE, TIMING OFF) ${text}`, values);
        const plan = r.rows.map((x: any) => x['QUERY PLAN']);
        if (process.env.PLAN) console.log(plan.filter((l: string) => !/Worker|Buckets|Batches/.test(l)).join('\n'));
        console.log(process.env.WM, plan[plan.length - 1]);
      }
    }
    return orig(text, values);
  };
  await c.query(`SET jit = off; SET work_mem = '${process.env.WM}'`);
  const { readMarket } = require('/work/wt/report/scripts/lib/report/market');
  await readMarket(c, { days: 90, today: '2026-12-07' }, (n: string, w: any) => w());
  await c.end();
})();
