import { Client } from 'pg';
(async () => {
  const c = new Client({ connectionString: 'postgres://postgres@127.0.0.1:55731/kapman_full' });
  await c.connect();
  const orig = c.query.bind(c);
  (c as any).query = async (text: any, values?: any) => {
    if (typeof text === 'string' && /WITH labels/.test(text)) {
      let t = text;
      (values ?? []).forEach((v: any, i: number) => { t = t.split(`$${i + 1}::uuid[]`).join(`$${i + 1}`); });
      (values ?? []).forEach((v: any, i: number) => {
        const lit = Array.isArray(v) ? (i === 2 ? `'{${v.join(',')}}'::uuid[]` : `'{${v.join(',')}}'::float8[]`) : `'${v}'`;
        t = t.split(`$${i + 1}::float8[]`).join(`$${i + 1}`).split(`$${i + 1}`).join(lit);
      });
      require('fs').writeFileSync(process.env.OUT!, `SET jit = off; SET max_parallel_workers_per_gather = 0; SET client_min_messages = log; SET log_executor_stats = on;\nEXPLAIN (ANALYZE, TIMING OFF) ${t};\n`);
    }
    return orig(text, values);
  };
  const { readMarket } = require('/work/wt/report/scripts/lib/report/market');
  await readMarket(c, { days: 90, today: '2026-12-07' }, (n: string, w: any) => w());
  await c.end();
})();
