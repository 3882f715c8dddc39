/**
 * A private Postfix instance on loopback for tests (after ../shared/peers/postfix/setup.sh):
 * its own config, spool and log under a temporary directory, `relay_domains` with a
 * `relay_recipient_maps` recipient map (an unknown recipient gets Postfix's own
 * `550 5.1.1 … User unknown in relay recipient table` at RCPT), and accepted mail
 * discarded. Needs root and the Debian `postfix` package (scripts/ensure.sh installs it);
 * a missing Postfix fails the test that starts it.
 */
import { execFile } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { systemBinary } from './system-binary.js';

const run = promisify(execFile);

export interface EmbeddedPostfix {
  readonly port: number;
  readonly dir: string;
  stop(): Promise<void>;
}

export interface PostfixOptions {
  readonly port: number;
  readonly hostname: string;
  /** Domains it relays (accepts mail for). */
  readonly domains: readonly string[];
  /** Every recipient it knows; anything else in `domains` is 550 5.1.1 at RCPT. */
  readonly recipients: readonly string[];
}

function uidOf(user: string): Promise<[number, number]> {
  return run('id', ['-u', user]).then(async (u) => [Number(u.stdout.trim()), Number((await run('id', ['-g', user])).stdout.trim())]);
}

async function listening(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host: '127.0.0.1', port }, () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`postfix: smtpd not listening on 127.0.0.1:${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const MASTER = (port: number): string => `127.0.0.1:${port} inet n - n - - smtpd
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
`;

export async function startPostfix(o: PostfixOptions): Promise<EmbeddedPostfix> {
  const postfix = systemBinary('postfix');
  if (!existsSync(postfix)) throw new Error('postfix is not installed (scripts/ensure.sh test installs it)');
  if (userInfo().uid !== 0) throw new Error('a private Postfix instance needs root');
  const dir = mkdtempSync(join(tmpdir(), 'switchyard-postfix-'));
  const etc = join(dir, 'etc');
  const spool = join(dir, 'spool');
  const data = join(dir, 'data');
  for (const d of [etc, spool, data]) mkdirSync(d, { recursive: true });
  for (const d of [dir, etc, spool]) chmodSync(d, 0o755);
  const [uid, gid] = await uidOf('postfix');
  chownSync(data, uid, gid);
  chmodSync(data, 0o700);
  writeFileSync(join(etc, 'master.cf'), MASTER(o.port));
  writeFileSync(join(etc, 'recipients'), o.recipients.map((r) => `${r.toLowerCase()} OK\n`).join(''));
  writeFileSync(
    join(etc, 'main.cf'),
    `compatibility_level = 3.6
queue_directory = ${spool}
data_directory = ${data}
mail_owner = postfix
setgid_group = postdrop
maillog_file = ${join(dir, 'maillog')}
maillog_file_prefixes = ${dir}
myhostname = ${o.hostname}
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
virtual_alias_domains =
relay_domains = ${o.domains.join(', ')}
relay_recipient_maps = texthash:${join(etc, 'recipients')}
smtpd_relay_restrictions = reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
unknown_relay_recipient_reject_code = 550
relay_transport = discard:accepted by the test instance
default_transport = discard:accepted by the test instance
smtpd_banner = $myhostname ESMTP
smtpd_tls_security_level = none
biff = no
`,
  );
  const pf = (cmd: string): Promise<unknown> => run(postfix, ['-c', etc, cmd]);
  await pf('check').catch(() => undefined); // creates the spool directories; warnings only
  await pf('start');
  await listening(o.port, 15_000);
  return {
    port: o.port,
    dir,
    async stop() {
      await pf('stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
