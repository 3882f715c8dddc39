/**
 * Reads recipient entries from LDAP / Active Directory with ldapts. Every run is a short
 * session (STYLE §9): connect (ldaps:// or ldap:// + StartTLS, CA verification on), simple
 * bind, paged search (≤ 1000 per page), AD ranged attributes read to the end, unbind in
 * `finally`. Yields one batch per page. Referrals are not chased.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, InvalidCredentialsError, NoSuchObjectError, ResultCodeError, type Entry } from 'ldapts';
import type { LdapSourceConfig } from '../../config/schema.js';
import type { ReadItem } from '../../pipeline/types.js';
import { prefetch } from '../batches.js';
import { LdapSourceError } from './errors.js';
import { foldRanges, mappingFor, searchFilter, type LdapMapping } from './mapping.js';

export interface LdapReadOptions {
  readonly password?: string | undefined;
  readonly pageSize?: number;
  /** Per operation and for connecting, in ms. */
  readonly timeoutMs?: number;
  readonly onPage?: (entries: number) => void;
}

function tlsOptions(source: LdapSourceConfig): ConnectionOptions {
  const host = new URL(source.url).hostname.replace(/^\[|\]$/g, '');
  return {
    ...(source.caFile ? { ca: [readFileSync(source.caFile)] } : {}),
    rejectUnauthorized: true,
    minVersion: 'TLSv1.2',
    ...(isIP(host) ? {} : { servername: host }),
  };
}

/** Turns an ldapts / socket error into a located LdapSourceError. */
export function classifyLdapError(source: string, err: unknown, during: string): LdapSourceError {
  if (err instanceof LdapSourceError) return err;
  const e = err as Error & { code?: string | number };
  if (err instanceof InvalidCredentialsError) return new LdapSourceError(source, `${during}: invalid credentials (check bindDn and the password)`, false, 'SY_LDAP_AUTH');
  if (err instanceof NoSuchObjectError) return new LdapSourceError(source, `${during}: no such object (check baseDn)`, false, 'SY_LDAP_BASE');
  if (err instanceof ResultCodeError) {
    const transient = [3, 51, 52, 80].includes(Number(e.code)); // timeLimit, busy, unavailable, other
    return new LdapSourceError(source, `${during}: ${e.message}`, transient, 'SY_LDAP_RESULT');
  }
  const text = e.message ?? String(err);
  if (/certificate|self.signed|unable to verify|altnames|CERT_/i.test(text + String(e.code ?? ''))) {
    return new LdapSourceError(source, `${during}: TLS certificate not trusted (${text}); set caFile to the CA that signed the server's certificate`, false, 'SY_LDAP_TLS');
  }
  return new LdapSourceError(source, `${during}: ${text}`, true, 'SY_LDAP_UNAVAILABLE');
}

async function completeRanges(client: Client, mapping: LdapMapping, dn: string, attrs: Map<string, (string | Buffer)[]>, pending: { attr: string; next: number }[]): Promise<void> {
  let todo = pending;
  while (todo.length > 0) {
    const next: { attr: string; next: number }[] = [];
    for (const p of todo) {
      const { searchEntries } = await client.search(dn, {
        scope: 'base',
        attributes: [`${p.attr};range=${p.next}-*`],
        explicitBufferAttributes: [...mapping.binary],
      });
      const more = foldRanges((searchEntries[0] ?? {}) as Record<string, unknown>);
      for (const [k, v] of more.attrs) attrs.set(k, [...(attrs.get(k) ?? []), ...v]);
      next.push(...more.pending);
    }
    todo = next;
  }
}

export async function* readLdap(source: LdapSourceConfig, opts: LdapReadOptions = {}): AsyncGenerator<ReadItem[]> {
  const mapping = mappingFor(source.mapping);
  const timeout = opts.timeoutMs ?? 30_000;
  const secure = source.url.startsWith('ldaps://');
  const client = new Client({ url: source.url, timeout, connectTimeout: Math.min(timeout, 10_000), strictDN: false, ...(secure ? { tlsOptions: tlsOptions(source) } : {}) });
  let step = 'connect';
  try {
    if (source.startTls) {
      step = 'StartTLS';
      await client.startTLS(tlsOptions(source));
    }
    if (source.bindDn !== undefined) {
      step = `${client.isConnected ? '' : 'connect and '}bind as ${source.bindDn}`;
      await client.bind(source.bindDn, opts.password ?? '');
    }
    step = `${client.isConnected ? '' : 'connect and '}search ${source.baseDn}`;
    const pages = client.searchPaginated(source.baseDn, {
      scope: source.scope,
      filter: searchFilter(mapping, source.filter),
      attributes: [...mapping.attributes],
      explicitBufferAttributes: [...mapping.binary],
      paged: { pageSize: Math.min(opts.pageSize ?? 1000, 1000) },
    });
    for await (const page of prefetch(pages)) {
      const items: ReadItem[] = [];
      for (const raw of page.searchEntries as Entry[]) {
        const { attrs, pending } = foldRanges(raw as Record<string, unknown>);
        if (pending.length > 0) await completeRanges(client, mapping, raw.dn, attrs, pending);
        const mapped = mapping.toEntry(raw.dn, attrs);
        items.push('entry' in mapped ? { entry: mapped.entry } : { error: { origin: raw.dn, reason: mapped.error } });
      }
      opts.onPage?.(items.length);
      if (items.length > 0) yield items;
    }
  } catch (err) {
    throw classifyLdapError(source.name, err, step);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
