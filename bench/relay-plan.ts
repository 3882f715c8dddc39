/**
 * The B3 load plan, the same as the Postfix peer's (../shared/peers/postfix, gen_data.py
 * and loadrun.py), so both relays get the same traffic: a directory of `<n>.gGG@contoso.test`
 * recipients in 20 groups, 5 % of the slots left out (unknown recipients, rejected with
 * 550 5.1.1), half of the entries mail contacts whose targetAddress is in live.contoso.test.
 * smtp-source -N numbers recipients 1, 2, 3 … per process, so worker w sends to group w % 20.
 */
export const DOMAIN = 'contoso.test';
export const TARGET_DOMAIN = 'live.contoso.test';

export type Kind = 'mailbox' | 'contact';

export interface Directory {
  readonly kinds: ReadonlyMap<string, Kind>;
  readonly groups: number;
  /** Largest n for which every group is laid out (hole or entry). */
  readonly safeN: number;
  readonly rows: readonly { address: string; kind: Kind; alias: string; target?: string }[];
}

/** mulberry32: a small deterministic PRNG. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function makeDirectory(n: number, groups = 20, unknownPct = 5, contactPct = 50, seed = 20240601): Directory {
  const rnd = prng(seed);
  const rows: Directory['rows'][number][] = [];
  let k = 0;
  let safeN = 0;
  while (rows.length < n) {
    k++;
    let complete = true;
    for (let g = 0; g < groups; g++) {
      if (rows.length >= n) {
        complete = false;
        break;
      }
      const address = `${k}.g${String(g).padStart(2, '0')}@${DOMAIN}`;
      const hole = rnd() * 100 < unknownPct;
      const contact = rnd() * 100 < contactPct;
      if (hole) continue;
      const local = address.split('@')[0] ?? '';
      rows.push(
        contact
          ? { address, kind: 'contact', alias: `alias.${local}@${DOMAIN}`, target: `${local}@${TARGET_DOMAIN}` }
          : { address, kind: 'mailbox', alias: `alias.${local}@${DOMAIN}` },
      );
    }
    if (complete) safeN = k;
  }
  return { kinds: new Map(rows.map((r) => [r.address, r.kind])), groups, safeN, rows };
}

export function csvdeOf(dir: Directory): string {
  const lines = ['objectClass,DN,name,cn,sn,givenName,displayName,proxyAddresses,targetAddress,mail,mailnickname'];
  for (const r of dir.rows) {
    const local = r.address.split('@')[0] ?? '';
    const dn = `"CN=${local},OU=People,DC=contoso,DC=test"`;
    lines.push(
      `${r.kind === 'contact' ? 'contact' : 'user'},${dn},${local},${local},${local},${local},${local},"SMTP:${r.address};smtp:${r.alias}",${r.target ? `SMTP:${r.target}` : ''},${r.address},${local}`,
    );
  }
  return `${lines.join('\n')}\n`;
}

export interface Invocation {
  readonly group: number;
  readonly messages: number;
}

export interface Expected {
  readonly offered: number;
  readonly accepted: number;
  /** Messages each sink gets (one transaction per hop per message). */
  readonly onprem: number;
  readonly cloud: number;
  readonly rejectedRcpts: number;
}

/** Per worker, its smtp-source invocations; and what the sinks must receive. */
export function loadPlan(
  dir: Directory,
  messages: number,
  sessions: number,
  rcpts: number,
): { workers: Invocation[][]; expected: Expected } {
  const chunk = Math.floor(dir.safeN / rcpts);
  if (chunk < 1) throw new Error(`directory too small for ${rcpts} recipients per message`);
  const e = { offered: 0, accepted: 0, onprem: 0, cloud: 0, rejectedRcpts: 0 };
  const workers: Invocation[][] = [];
  for (let w = 0; w < sessions; w++) {
    let m = Math.floor(messages / sessions) + (w < messages % sessions ? 1 : 0);
    const group = w % dir.groups;
    const list: Invocation[] = [];
    while (m > 0) {
      const c = Math.min(m, chunk);
      list.push({ group, messages: c });
      m -= c;
      for (let i = 0; i < c; i++) {
        const kinds = new Set<Kind>();
        for (let s = i * rcpts + 1; s <= i * rcpts + rcpts; s++) {
          const kind = dir.kinds.get(`${s}.g${String(group).padStart(2, '0')}@${DOMAIN}`);
          if (kind) kinds.add(kind);
          else e.rejectedRcpts++;
        }
        e.offered++;
        if (kinds.size > 0) e.accepted++;
        if (kinds.has('mailbox')) e.onprem++;
        if (kinds.has('contact')) e.cloud++;
      }
    }
    workers.push(list);
  }
  return { workers, expected: e };
}
