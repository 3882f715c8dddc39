/**
 * A private OpenLDAP slapd for tests and benchmarks: its own slapd.conf, database and
 * test CA in a temp dir, the project's AD-like schema (fixtures/ldap), ldap:// (with
 * StartTLS) and ldaps:// on free loopback ports. Data is bulk-loaded with slapadd
 * before start; changes at run time go through the admin account.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from '../src/main/embedded-redis.js';
import { projectRoot } from '../src/main/paths.js';
import { systemBinary } from './system-binary.js';

const run = promisify(execFile);

export const SUFFIX = 'dc=contoso,dc=edu';
export const ADMIN_DN = `cn=admin,${SUFFIX}`;
export const SERVICE_DN = `cn=svc-switchyard,ou=Service,${SUFFIX}`;

export interface EmbeddedSlapd {
  readonly ldapUrl: string;
  readonly ldapsUrl: string;
  readonly dir: string;
  readonly caFile: string;
  readonly adminPassword: string;
  readonly servicePassword: string;
  stop(signal?: NodeJS.Signals): Promise<void>;
  start(): Promise<void>;
}

export interface SlapdOptions {
  readonly dir: string;
  /** LDIF files loaded with slapadd before the first start. */
  readonly ldif?: readonly string[];
  readonly adminPassword?: string;
  readonly servicePassword?: string;
}

/** A throw-away CA and a server certificate for 127.0.0.1 / localhost. */
export async function makeTestCa(
  dir: string,
  name = 'Switchyard Test CA',
  extraNames: readonly string[] = [],
): Promise<{ caFile: string; certFile: string; keyFile: string }> {
  mkdirSync(dir, { recursive: true });
  const f = (n: string): string => join(dir, n);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '3', '-subj', `/CN=${name}`]);
  await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(f('san.ext'), `subjectAltName=${['IP:127.0.0.1', 'DNS:localhost', ...extraNames].join(',')}\n`);
  await run('openssl', [
    'x509',
    '-req',
    '-in',
    f('server.csr'),
    '-CA',
    f('ca.crt'),
    '-CAkey',
    f('ca.key'),
    '-CAcreateserial',
    '-out',
    f('server.crt'),
    '-days',
    '3',
    '-extfile',
    f('san.ext'),
  ]);
  return { caFile: f('ca.crt'), certFile: f('server.crt'), keyFile: f('server.key') };
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function slapdConf(dir: string, tls: { caFile: string; certFile: string; keyFile: string }, adminPassword: string): string {
  const schema = ['core', 'cosine', 'inetorgperson', 'misc'].map((s) => `include /etc/ldap/schema/${s}.schema`);
  return [
    ...schema,
    `include ${join(projectRoot(), 'fixtures', 'ldap', 'switchyard-ad.schema')}`,
    `pidfile ${join(dir, 'slapd.pid')}`,
    `argsfile ${join(dir, 'slapd.args')}`,
    'modulepath /usr/lib/ldap',
    'moduleload back_mdb',
    'sizelimit size.soft=1000 size.hard=unlimited size.prtotal=unlimited',
    `TLSCACertificateFile ${tls.caFile}`,
    `TLSCertificateFile ${tls.certFile}`,
    `TLSCertificateKeyFile ${tls.keyFile}`,
    'database mdb',
    'maxsize 4294967296',
    `suffix "${SUFFIX}"`,
    `rootdn "${ADMIN_DN}"`,
    `rootpw ${adminPassword}`,
    `directory ${join(dir, 'db')}`,
    'index objectClass,entryUUID eq',
    'index modifyTimestamp eq',
    'access to attrs=userPassword by self write by anonymous auth by * none',
    `access to * by dn.exact="${SERVICE_DN}" read by * none`,
    '',
  ].join('\n');
}

export async function startSlapd(opts: SlapdOptions): Promise<EmbeddedSlapd> {
  const dir = opts.dir;
  mkdirSync(join(dir, 'db'), { recursive: true });
  const adminPassword = opts.adminPassword ?? 'admin-secret';
  const servicePassword = opts.servicePassword ?? 'service-secret';
  const tls = await makeTestCa(join(dir, 'tls'));
  const conf = join(dir, 'slapd.conf');
  writeFileSync(conf, slapdConf(dir, tls, adminPassword));
  const base = join(dir, 'base.ldif');
  writeFileSync(
    base,
    [
      `dn: ${SUFFIX}`,
      'objectClass: dcObject',
      'objectClass: organization',
      'dc: contoso',
      'o: Contoso',
      '',
      `dn: ou=Service,${SUFFIX}`,
      'objectClass: organizationalUnit',
      'ou: Service',
      '',
      `dn: ${SERVICE_DN}`,
      'objectClass: person',
      'cn: svc-switchyard',
      'sn: Switchyard',
      `userPassword: ${servicePassword}`,
      '',
    ].join('\n'),
  );
  for (const file of [base, ...(opts.ldif ?? [])]) {
    await run(systemBinary('slapadd'), ['-q', '-f', conf, '-l', file], { maxBuffer: 1 << 24 });
  }
  const [ldapPort, ldapsPort] = [await freePort(), await freePort()];
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const server: EmbeddedSlapd = {
    ldapUrl: `ldap://127.0.0.1:${ldapPort}`,
    ldapsUrl: `ldaps://127.0.0.1:${ldapsPort}`,
    dir,
    caFile: tls.caFile,
    adminPassword,
    servicePassword,
    async start() {
      let log = '';
      const c = spawn(
        systemBinary('slapd'),
        ['-f', conf, '-h', `ldap://127.0.0.1:${ldapPort}/ ldaps://127.0.0.1:${ldapsPort}/`, '-d', '0'],
        { stdio: ['ignore', 'ignore', 'pipe'] },
      );
      c.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
      child = c;
      let dead = false;
      exited = new Promise((resolve) =>
        c.once('exit', () => {
          dead = true;
          resolve();
        }),
      );
      const deadline = Date.now() + 15_000;
      while (!(await listening(ldapPort)) || !(await listening(ldapsPort))) {
        if (dead) throw new Error(`slapd exited at start: ${log.trim() || 'no output'} (install it: apt-get install -y slapd ldap-utils)`);
        if (Date.now() > deadline) throw new Error(`slapd did not listen on ${ldapPort}/${ldapsPort} within 15 s: ${log}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    },
    async stop(signal = 'SIGTERM') {
      if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
  await server.start();
  return server;
}
