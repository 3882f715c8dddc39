/**
 * A real Active Directory domain controller for tests where AD behaviour matters
 * (objectGUID, uSNChanged, tombstones, strong-auth binds): Debian's Samba, provisioned in
 * a temp dir for CONTOSO.EDU, the Exchange-style schema extension of fixtures/samba
 * applied offline with ldbmodify (attributes, then classes), and only the LDAP service
 * started, on a 127.x address of its own (added to `lo`; needs root) with a test CA.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { makeTestCa } from './embedded-slapd.js';
import { projectRoot } from '../src/main/paths.js';
import { systemBinary } from './system-binary.js';

const run = promisify(execFile);

export const AD_BASE = 'DC=contoso,DC=edu';
export const AD_SERVICE_USER = 'svc-switchyard';
export const AD_SERVICE_DN = `CN=${AD_SERVICE_USER},CN=Users,${AD_BASE}`;

export interface EmbeddedSamba {
  readonly address: string;
  readonly ldapUrl: string;
  readonly ldapsUrl: string;
  readonly caFile: string;
  readonly adminDn: string;
  readonly adminPassword: string;
  readonly servicePassword: string;
  stop(): Promise<void>;
}

function reachable(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A 127.x address nobody listens on, added to the loopback interface. */
async function claimLoopbackAddress(): Promise<string> {
  const { stdout } = await run(systemBinary('ip'), ['-4', 'addr', 'show', 'dev', 'lo']);
  for (let i = 0; i < 50; i++) {
    const address = `127.${20 + Math.floor(Math.random() * 200)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    if (stdout.includes(` ${address}/`) || (await reachable(address, 636))) continue;
    await run(systemBinary('ip'), ['addr', 'add', `${address}/32`, 'dev', 'lo']);
    return address;
  }
  throw new Error('no free 127.x address for the test domain controller');
}

/**
 * Lets the service account list tombstones, as an AD administrator does for a sync
 * account with `dsacls "CN=Deleted Objects,…" /takeownership` then `/G DOMAIN\\svc:LCRP`:
 * an ACE added to the container's DACL (offline, with the show_deleted control).
 */
async function grantTombstoneRead(sam: string, dir: string): Promise<void> {
  const { stdout: user } = await run('ldbsearch', ['-H', sam, `(sAMAccountName=${AD_SERVICE_USER})`, 'objectSid']);
  const sid = /^objectSid: (S-[\d-]+)$/m.exec(user)?.[1];
  const { stdout: container } = await run('ldbsearch', [
    '-H',
    sam,
    '--controls=show_deleted:1',
    '-b',
    `CN=Deleted Objects,${AD_BASE}`,
    '-s',
    'base',
    'nTSecurityDescriptor',
  ]);
  const sd = /^nTSecurityDescriptor: (.*)$/m.exec(container.replace(/\n /g, ''))?.[1];
  if (!sid || !sd) throw new Error('cannot read the service account SID or the Deleted Objects security descriptor');
  const ace = `(A;;LCRP;;;${sid})`;
  const file = join(dir, 'deleted-objects-acl.ldif');
  writeFileSync(
    file,
    `dn: CN=Deleted Objects,${AD_BASE}\nchangetype: modify\nreplace: nTSecurityDescriptor\nnTSecurityDescriptor: ${sd.includes('S:') ? sd.replace('S:', `${ace}S:`) : sd + ace}\n`,
  );
  await run('ldbmodify', ['-H', sam, '--controls=show_deleted:1', file]);
}

export async function startSamba(dir: string): Promise<EmbeddedSamba> {
  if (process.getuid?.() !== 0)
    throw new Error('the Samba AD test domain controller needs root (it binds LDAP ports on a 127.x address of its own)');
  mkdirSync(dir, { recursive: true });
  const address = await claimLoopbackAddress();
  const adminPassword = 'Adm1n-Passw0rd!';
  const servicePassword = 'Svc-Passw0rd-42!';
  const target = join(dir, 'dc');
  const conf = join(target, 'etc', 'smb.conf');
  const sam = join(target, 'private', 'sam.ldb');
  let child: ChildProcess | undefined;
  try {
    await run('samba-tool', [
      'domain',
      'provision',
      `--targetdir=${target}`,
      '--realm=CONTOSO.EDU',
      '--domain=CONTOSO',
      '--server-role=dc',
      '--dns-backend=NONE',
      `--adminpass=${adminPassword}`,
      `--host-ip=${address}`,
      `--option=interfaces=${address}`,
      '--option=bind interfaces only=yes',
    ]);
    const schemaDir = join(projectRoot(), 'fixtures', 'samba');
    for (const file of ['exchange-attributes.ldif', 'exchange-classes.ldif']) {
      await run('ldbmodify', ['-H', sam, join(schemaDir, file), '--option=dsdb:schema update allowed=true']);
    }
    await run('samba-tool', ['user', 'create', AD_SERVICE_USER, servicePassword, '-H', sam, '-s', conf]);
    await grantTombstoneRead(sam, dir);
    const tls = await makeTestCa(join(dir, 'tls'), 'Switchyard Test AD CA', [`IP:${address}`]);
    let log = '';
    const c = spawn(
      systemBinary('samba'),
      [
        '-i',
        '-s',
        conf,
        '--option=server services=ldap',
        `--option=pid directory=${target}`,
        '--option=tls enabled=yes',
        `--option=tls keyfile=${tls.keyFile}`,
        `--option=tls certfile=${tls.certFile}`,
        `--option=tls cafile=${tls.caFile}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = c;
    c.stdout?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    c.stderr?.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
    const deadline = Date.now() + 30_000;
    while (!(await reachable(address, 636))) {
      if (c.exitCode !== null) throw new Error(`samba exited at start: ${log}`);
      if (Date.now() > deadline) throw new Error(`samba did not listen on ${address}:636 within 30 s: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const started = c;
    const exited = new Promise<void>((resolve) => (started.exitCode !== null ? resolve() : started.once('exit', () => resolve())));
    return {
      address,
      ldapUrl: `ldap://${address}`,
      ldapsUrl: `ldaps://${address}`,
      caFile: tls.caFile,
      adminDn: `CN=Administrator,CN=Users,${AD_BASE}`,
      adminPassword,
      servicePassword,
      async stop() {
        if (started.exitCode === null) started.kill('SIGTERM');
        await exited;
        await run(systemBinary('ip'), ['addr', 'del', `${address}/32`, 'dev', 'lo']).catch(() => undefined);
      },
    };
  } catch (err) {
    child?.kill('SIGKILL');
    await run(systemBinary('ip'), ['addr', 'del', `${address}/32`, 'dev', 'lo']).catch(() => undefined);
    throw err;
  }
}
