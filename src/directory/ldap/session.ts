/**
 * LDAP / Active Directory sessions with ldapts. Every run is a short session (STYLE §9):
 * connect (ldaps:// or ldap:// + StartTLS, CA verification on), simple bind, paged search
 * (≤ 1000 per page), AD ranged attributes read to the end, unbind in `finally`.
 * Referrals are not chased. Search entries are decoded by lean-entry.ts (ldapts-internals.ts).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { Client, InvalidCredentialsError, NoSuchObjectError, ResultCodeError, type Control } from 'ldapts';
import { LDAP_PAGE_SIZE, type LdapSourceConfig } from '../../config/schema.js';
import { prefetch } from '../batches.js';
import { LdapSourceError, WatermarkInvalidError } from './errors.js';
import { useLeanDecoder } from './ldapts-internals.js';
import { foldedRequest, leanAttributes } from './folded-entry.js';
import { foldRanges, mappingFor, type LdapAttributes, type LdapMapping } from './mapping.js';

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

/**
 * SPEC §2.2, checked again at the wire (config validation refuses both first): never a
 * simple bind without TLS, never an empty password (an anonymous bind, RFC 4513 §5.1.2).
 */
function bindPassword(source: LdapSourceConfig, password: string | undefined, secure: boolean): string {
  if (source.bindDn === undefined) return '';
  if (!secure && !source.startTls) {
    throw new LdapSourceError(
      source.name,
      'refused: a simple bind over plain ldap:// would send the password in clear; use ldaps:// or startTls: true',
      false,
      'SY_LDAP_INSECURE',
    );
  }
  if (password === undefined || password === '') {
    throw new LdapSourceError(
      source.name,
      'refused: an empty bind password is an anonymous bind in disguise (RFC 4513 §5.1.2); set bindPasswordEnv or bindPasswordFile',
      false,
      'SY_LDAP_INSECURE',
    );
  }
  return password;
}

/** Turns an ldapts / socket error into a located LdapSourceError. */
export function classifyLdapError(source: string, err: unknown, during: string): LdapSourceError | WatermarkInvalidError {
  if (err instanceof LdapSourceError || err instanceof WatermarkInvalidError) return err;
  const e = err as Error & { code?: string | number };
  if (err instanceof InvalidCredentialsError)
    return new LdapSourceError(source, `${during}: invalid credentials (check bindDn and the password)`, false, 'SY_LDAP_AUTH');
  if (err instanceof NoSuchObjectError)
    return new LdapSourceError(source, `${during}: no such object (check baseDn)`, false, 'SY_LDAP_BASE');
  if (err instanceof ResultCodeError) {
    const transient = [3, 51, 52, 80].includes(Number(e.code)); // timeLimit, busy, unavailable, other
    return new LdapSourceError(source, `${during}: ${e.message}`, transient, 'SY_LDAP_RESULT');
  }
  const text = e.message ?? String(err);
  if (/certificate|self.signed|unable to verify|altnames|CERT_/i.test(text + String(e.code ?? ''))) {
    return new LdapSourceError(
      source,
      `${during}: TLS certificate not trusted (${text}); set caFile to the CA that signed the server's certificate`,
      false,
      'SY_LDAP_TLS',
    );
  }
  return new LdapSourceError(source, `${during}: ${text}`, true, 'SY_LDAP_UNAVAILABLE');
}

async function completeRanges(
  client: Client,
  mapping: LdapMapping,
  dn: string,
  attrs: Map<string, (string | Buffer)[]>,
  pending: readonly { readonly attr: string; readonly next: number }[],
): Promise<void> {
  let todo = pending;
  while (todo.length > 0) {
    const next: { attr: string; next: number }[] = [];
    for (const p of todo) {
      const { searchEntries } = await client.search(dn, {
        scope: 'base',
        attributes: [`${p.attr};range=${p.next}-*`],
        explicitBufferAttributes: [...mapping.binary],
      });
      const more = foldRanges(searchEntries[0] ?? {});
      for (const [k, v] of more.attrs) attrs.set(k, [...(attrs.get(k) ?? []), ...v]);
      next.push(...more.pending);
    }
    todo = next;
  }
}

const NO_RANGES: readonly { attr: string; next: number }[] = [];

/** One search's pages as mapped entries (ranged attributes completed), the next page fetched ahead. */
export async function* searchEntries(
  client: Client,
  mapping: LdapMapping,
  base: string,
  options: {
    scope: LdapSourceConfig['scope'] | 'one';
    filter: string;
    attributes?: readonly string[];
    pageSize?: number;
    controls?: Control[];
  },
  onAttrs?: (attrs: LdapAttributes) => void,
): AsyncGenerator<{ dn: string; mapped: ReturnType<LdapMapping['toEntry']>; attrs: LdapAttributes }[]> {
  const pages = client.searchPaginated(
    base,
    {
      scope: options.scope,
      filter: options.filter,
      attributes: foldedRequest([...(options.attributes ?? mapping.attributes)]), // entries read through leanAttributes
      explicitBufferAttributes: [...mapping.binary],
      paged: { pageSize: Math.min(options.pageSize ?? LDAP_PAGE_SIZE, 1000) },
    },
    options.controls,
  );
  for await (const page of prefetch(pages)) {
    const out: { dn: string; mapped: ReturnType<LdapMapping['toEntry']>; attrs: LdapAttributes }[] = [];
    for (const raw of page.searchEntries) {
      const lean = leanAttributes(raw); // folded already by the lean decoder (none when ranged, or ldapts parsed it)
      const { attrs, pending } = lean === undefined ? foldRanges(raw) : { attrs: lean, pending: NO_RANGES };
      if (pending.length > 0) await completeRanges(client, mapping, raw.dn, attrs, pending);
      onAttrs?.(attrs);
      out.push({ dn: raw.dn, mapped: mapping.toEntry(raw.dn, attrs), attrs });
    }
    if (out.length > 0) yield out;
  }
}

export interface LdapSession {
  readonly client: Client;
  readonly mapping: LdapMapping;
  /** Names the current step for error messages ("search DC=…"). */
  step(name: string): void;
}

/**
 * A short LDAP session around `body`: connect, StartTLS, bind, then whatever `body`
 * yields; unbind in `finally`; errors located and classified (LdapSourceError).
 */
export async function* ldapSession<T>(
  source: LdapSourceConfig,
  opts: LdapReadOptions,
  body: (session: LdapSession) => AsyncGenerator<T>,
): AsyncGenerator<T> {
  const timeout = opts.timeoutMs ?? 30_000;
  const secure = source.url.startsWith('ldaps://');
  const password = bindPassword(source, opts.password, secure);
  const client = new Client({
    url: source.url,
    timeout,
    connectTimeout: Math.min(timeout, 10_000),
    strictDN: false,
    ...(secure ? { tlsOptions: tlsOptions(source) } : {}),
  });
  useLeanDecoder(client); // search entries decoded without ldapts's per-value cost (throws on an untested ldapts)
  let step = 'connect';
  try {
    if (source.startTls) {
      step = 'StartTLS';
      await client.startTLS(tlsOptions(source));
    }
    if (source.bindDn !== undefined) {
      step = `${client.isConnected ? '' : 'connect and '}bind as ${source.bindDn}`;
      await client.bind(source.bindDn, password);
    }
    const session: LdapSession = {
      client,
      mapping: mappingFor(source.mapping),
      step: (name) => (step = `${client.isConnected ? '' : 'connect and '}${name}`),
    };
    yield* body(session);
  } catch (err) {
    throw classifyLdapError(source.name, err, step);
  } finally {
    await client.unbind().catch(() => undefined);
  }
}
