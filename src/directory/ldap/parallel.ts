/**
 * The searches of a full read, decoupled from staging: they run ahead into a bounded
 * page queue (reading never waits on Redis, only on a full queue). With `partitions`
 * configured, disjoint parts of the scope are read on separate connections at once
 * (partitions.ts); an entry read twice is dropped by id. A server that refuses a part's
 * filter (unwilling to perform, inappropriate matching, admin limit) makes the read fall
 * back to one search of the whole scope, reported through `onPartitions`.
 */
import { ResultCodeError } from 'ldapts';
import type { LdapSourceConfig } from '../../config/schema.js';
import type { ReadItem } from '../items.js';
import { entryItem } from '../mail-enabled.js';
import type { LdapAttributes } from './mapping.js';
import { PageQueue } from './page-queue.js';
import { partFilter, planFilters } from './partitions.js';
import { ldapSession, searchEntries, type LdapReadOptions, type LdapSession } from './session.js';

/** How a full read was split: `searches` run in parallel parts (1: one search); `fallback` says why not. */
export interface PartitionReport {
  readonly searches: number;
  readonly connections: number;
  readonly fallback?: string;
}

export type FullReadOptions = LdapReadOptions & {
  beforeSearch?: (s: LdapSession) => Promise<void>;
  onAttrs?: (a: LdapAttributes) => void;
  onPartitions?: (r: PartitionReport) => void;
};

/** Result codes by which a server refuses a part's filter: read the scope in one search instead. */
const OBJECTIONS = new Set([4, 11, 12, 18, 53]); // sizeLimit, adminLimit, unavailableCriticalExtension, inappropriateMatching, unwillingToPerform

/** Pages queued ahead per search connection. */
const AHEAD = 3;

interface Work {
  readonly filters: readonly string[];
  next: number;
  objection?: string;
}

async function highestUsn(session: LdapSession): Promise<number | undefined> {
  session.step('read rootDSE highestCommittedUSN');
  const { searchEntries: root } = await session.client.search('', {
    scope: 'base',
    filter: '(objectClass=*)',
    attributes: ['highestCommittedUSN'],
  });
  const v = root[0]?.highestCommittedUSN;
  const s = String(Array.isArray(v) ? v[0] : (v ?? ''));
  return /^\d+$/.test(s) ? Number(s) : undefined;
}

/** Runs parts of `work` in `session` until none is left, pushing their pages as reader items. */
async function runParts(
  source: LdapSourceConfig,
  session: LdapSession,
  work: Work,
  queue: PageQueue<ReadItem[]>,
  opts: FullReadOptions,
): Promise<void> {
  for (let i = work.next++; i < work.filters.length && !queue.stopped && work.objection === undefined; i = work.next++) {
    const filter = work.filters[i] as string;
    session.step(`search ${source.baseDn}${work.filters.length > 1 ? ` (part ${i + 1} of ${work.filters.length}, ${filter})` : ''}`);
    try {
      const pages = searchEntries(
        session.client,
        session.mapping,
        source.baseDn,
        { scope: source.scope, filter, pageSize: opts.pageSize ?? source.pageSize },
        opts.onAttrs,
      );
      for await (const page of pages) {
        await queue.push(
          page.map(({ dn, mapped }) => ('entry' in mapped ? entryItem(mapped.entry) : { error: { origin: dn, reason: mapped.error } })),
        );
        if (queue.stopped || work.objection !== undefined) return;
      }
    } catch (err) {
      if (work.filters.length > 1 && err instanceof ResultCodeError && OBJECTIONS.has(Number(err.code))) {
        work.objection ??= `the server refused the part filter ${filter}: ${err.message}`;
        return;
      }
      throw err;
    }
  }
}

/** Another connection for parts of `work` (its own session: connect, bind, unbind). */
async function remoteWorker(source: LdapSourceConfig, opts: FullReadOptions, work: Work, queue: PageQueue<ReadItem[]>): Promise<void> {
  const run = ldapSession(source, opts, async function* (s) {
    await runParts(source, s, work, queue, opts);
    yield* [];
  });
  for await (const _ of run); // the session only pushes pages
}

/** The pages of `pages` without the entries already read (by id; an unmappable one by DN). */
async function* unique(pages: AsyncIterable<ReadItem[]>, seen: Set<string>): AsyncGenerator<ReadItem[]> {
  for await (const page of pages) {
    const fresh = page.filter((item) => {
      const key = 'error' in item ? `dn:${item.error.origin}` : item.entry.id;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    if (fresh.length > 0) yield fresh;
  }
}

/** Reads `filters` (parts of the scope) on up to `connections` connections, the first in `session`. */
function readParts(
  source: LdapSourceConfig,
  session: LdapSession,
  opts: FullReadOptions,
  filters: readonly string[],
  connections: number,
): { work: Work; pages: AsyncGenerator<ReadItem[]> } {
  const work: Work = { filters, next: 0 };
  const workers = Math.max(1, Math.min(connections, filters.length));
  const queue = new PageQueue<ReadItem[]>(AHEAD * workers, workers);
  const finish = (p: Promise<void>): void =>
    void p.then(
      () => queue.end(),
      (err: unknown) => queue.end(err),
    );
  finish(runParts(source, session, work, queue, opts));
  for (let w = 1; w < workers; w++) finish(remoteWorker(source, opts, work, queue));
  return { work, pages: queue.drain() };
}

/** The part filters of the configured plan; undefined (with why) for one search. */
async function partFilters(
  source: LdapSourceConfig,
  session: LdapSession,
  scopeFilter: string,
): Promise<{ filters?: string[]; fallback?: string }> {
  const plan = source.partitions;
  if (plan === undefined) return {};
  const parts = planFilters(plan, plan.by === 'usn' ? await highestUsn(session) : undefined);
  if (parts === undefined) return { fallback: 'the rootDSE has no highestCommittedUSN: one search' };
  return { filters: parts.map((p) => partFilter(scopeFilter, p)) };
}

/** A full read of the source's scope (partitioned when configured), one batch per page. */
export async function* fullRead(
  source: LdapSourceConfig,
  session: LdapSession,
  opts: FullReadOptions,
  scopeFilter: string,
): AsyncGenerator<ReadItem[]> {
  const { filters, fallback } = await partFilters(source, session, scopeFilter);
  if (filters === undefined || filters.length < 2) {
    opts.onPartitions?.({ searches: 1, connections: 1, ...(fallback ? { fallback } : {}) });
    yield* readParts(source, session, opts, [scopeFilter], 1).pages;
    return;
  }
  const connections = Math.min(source.partitions?.connections ?? 1, filters.length);
  const seen = new Set<string>();
  const { work, pages } = readParts(source, session, opts, filters, connections);
  yield* unique(pages, seen);
  if (work.objection === undefined) {
    opts.onPartitions?.({ searches: filters.length, connections });
    return;
  }
  // A server objected to a part: the whole scope in one search, what was read already dropped.
  opts.onPartitions?.({ searches: 1, connections: 1, fallback: work.objection });
  yield* unique(readParts(source, session, opts, [scopeFilter], 1).pages, seen);
}
