// What a person does with db:verify's entries: pastes each into db/contract.ts, over the old one.
// The entries come in three forms (contractEntry.ts): `// in tables: [...]` then array items
// (replacing the item of the same name), `// in F: {...}` then keys of a record, and a whole
// field, `  F: [...],`.
import type { SchemaContract } from '../../db/contract';

// contract.ts's own helper, for evaluating an entry as the file would.
const col = (name: string, type: string, notNull = false, dflt?: string) => (dflt === undefined ? { name, type, notNull } : { name, type, notNull, default: dflt });
const evaluate = (source: string): any => new Function('col', `return (${source});`)(col);

export function pasteEntries(contract: SchemaContract, entries: string): SchemaContract {
  const pasted: Record<string, any> = structuredClone(contract);
  const blocks = entries.split(/\n(?=\/\/ in |  \w+: )/);
  for (const block of blocks) {
    const into = /^\/\/ in (\w+): (\[\.\.\.\]|\{\.\.\.\})\n([^]*)$/.exec(block);
    if (into) {
      const [, field, kind, body] = into;
      if (kind === '[...]') {
        for (const item of evaluate(`[${body}]`)) {
          const list: any[] = (pasted[field] ??= []);
          const at = list.findIndex((x) => x.name === item.name);
          if (at < 0) list.push(item);
          else list[at] = item;
        }
      } else pasted[field] = { ...pasted[field], ...evaluate(`{${body}}`) };
      continue;
    }
    Object.assign(pasted, evaluate(`{${block.trim().replace(/,$/, '')}}`));
  }
  return pasted as SchemaContract;
}
