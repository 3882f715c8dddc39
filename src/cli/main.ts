/**
 * The `switchyard` command line. Exit codes (SPEC §7): 0 success, 1 failure with a
 * one-line reason on stderr, 2 usage error. Each command imports its own modules when it
 * runs (`await import()` in its action), so `--help`, `resolve` and `status` do not load
 * the relay, the job queues or the admin server.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { defaultConfigPath } from '../config/path.js';
import { projectRoot } from '../main/paths.js';
import { requireConfigFile } from './config-file.js';
import type { ApplyFlags, ExportFlags } from './contacts-command.js';
import type { ImportFlags } from './import-command.js';
import type { QueueAction, QueueFlags } from './queue-command.js';
import type { SyncFlags } from './sync-command.js';
import type { TraceFlags } from './trace-command.js';
import type { MailflowFlags } from './mailflow-command.js';
import { UsageError } from './usage-error.js';

interface CommonFlags {
  readonly config: string;
  readonly json?: boolean;
}

interface ServeFlags {
  readonly config: string;
  readonly adminListen?: string;
}

/** Runs a command's task; the action returns its promise, so parseAsync awaits it. */
type Run = (task: () => Promise<number> | number) => Promise<void>;

function configOption(): Option {
  return new Option('--config <file>', 'configuration file').default(defaultConfigPath(), '$SWITCHYARD_CONFIG or ./switchyard.yaml');
}

/** Stops with where it looked unless the command's configuration file exists. */
function configured(cmd: Command, flags: { config: string }): void {
  requireConfigFile(flags.config, cmd.getOptionValueSource('config') === 'cli');
}

function packageVersion(): string {
  return (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

function syncCommands(program: Command, run: Run): void {
  program
    .command('import')
    .description('import a Csvde export as the full snapshot of a csvde source')
    .argument('<file>', 'Csvde CSV file (UTF-8 or UTF-16LE)')
    .requiredOption('--source <name>', 'source name from the configuration')
    .option('--dry-run', 'print the diff, publish nothing')
    .option('--skip-invalid', 'publish the valid rows and report the others')
    .option('--allow-mass-delete', 'override the deletion guard')
    .option('--json', 'print the result as JSON')
    .option('--inline', 'run in this process even when a worker is listening')
    .addOption(configOption())
    .action((file: string, flags: ImportFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./import-command.js')).importCommand(file, flags);
      }),
    );

  program
    .command('sync')
    .description('sync a source (LDAP: delta from the watermark, else full; csvde: re-import its path), or all of them')
    .argument('[source]', 'source name from the configuration')
    .option('--full', 'full sync: read everything, reconcile, detect deletions')
    .option('--dry-run', 'print the diff, publish nothing')
    .option('--allow-mass-delete', 'override the deletion guard')
    .option('--json', 'print the result as JSON')
    .option('--inline', 'run in this process even when a worker is listening')
    .addOption(configOption())
    .action((source: string | undefined, flags: SyncFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./sync-command.js')).syncCommand(source, flags);
      }),
    );
}

function serveCommands(program: Command, run: Run): void {
  program
    .command('worker')
    .description('run the sync and import jobs and the schedules until SIGTERM')
    .option('--admin-listen <host:port>', 'also serve /healthz, /metrics, the status page and the job dashboard here')
    .addOption(configOption())
    .action((flags: ServeFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./worker-command.js')).workerCommand(flags);
      }),
    );

  program
    .command('up')
    .description('everything on one machine: worker, schedules, relay and admin HTTP, until SIGTERM')
    .option('--admin-listen <host:port>', 'admin HTTP address (default: admin.listen)')
    .addOption(configOption())
    .action((flags: ServeFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./up-command.js')).upCommand(flags);
      }),
    );

  program
    .command('relay')
    .description('run the SMTP relay and its deliveries until SIGTERM')
    .option('--admin-listen <host:port>', 'also serve /healthz, /metrics and the status page here')
    .addOption(configOption())
    .action((flags: ServeFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./relay-command.js')).relayCommand(flags);
      }),
    );

  program
    .command('passwd')
    .description('read a password on stdin and print the relay.auth.usersFile line for USER')
    .argument('<user>')
    .action((user: string) => run(async () => (await import('./passwd-command.js')).passwdCommand(user)));

  program
    .command('demo')
    .description('the demo organisation on a private Redis: import, relay, demo mail systems, sample messages, status page')
    .option('--exit', 'exit once ready instead of staying up')
    .action((flags: { exit?: boolean }) => run(async () => (await import('./demo.js')).demoCommand(flags)));
}

function queueCommands(program: Command, run: Run): void {
  const queue = program.command('queue').description('list and operate on queued deliveries');
  const queueActions: [QueueAction, string][] = [
    ['list', 'list queued deliveries (all, or those selected)'],
    ['hold', 'hold deliveries until released'],
    ['release', 'release held deliveries (due now)'],
    ['retry', 'make waiting deliveries due now'],
    ['delete', 'delete deliveries for good (no DSN)'],
  ];
  for (const [action, description] of queueActions) {
    queue
      .command(action)
      .description(description)
      .argument('[id...]', 'message ids or unit ids (<message>.<n>)')
      .option('--recipient <address>', 'deliveries with this recipient')
      .option('--hop <connector>', 'deliveries to this next hop')
      .option('--all', 'every queued delivery')
      .option('--json', 'JSON lines')
      .addOption(configOption())
      .action((ids: string[], flags: QueueFlags, cmd: Command) =>
        run(async () => {
          configured(cmd, flags);
          return (await import('./queue-command.js')).queueCommand(action, ids, flags);
        }),
      );
  }
}

function traceCommands(program: Command, run: Run): void {
  program
    .command('trace')
    .description('what happened to a message: one timeline per message (received, RCPT decisions, attempts, DSNs, operator actions)')
    .option('--id <id>', 'queue id (or S… session id)')
    .option('--message-id <id>', 'Message-ID header')
    .option('--sender <address>', 'envelope sender')
    .option('--recipient <address>', 'recipient (refusals at RCPT too)')
    .option('--since <duration>', 'only messages with events in the last DURATION (e.g. 4h)')
    .option('--json', 'one JSON timeline per line')
    .addOption(configOption())
    .action((flags: TraceFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./trace-command.js')).traceCommand(flags);
      }),
    );
  program
    .command('audit')
    .description('operator actions: who, when, what, result')
    .option('--since <duration>', 'only the last DURATION (e.g. 7d)')
    .option('--json', 'JSON lines')
    .addOption(configOption())
    .action((flags: CommonFlags & { since?: string }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./trace-command.js')).auditCommand(flags);
      }),
    );
}

function testCommands(program: Command, run: Run): void {
  const test = program.command('test').description('prove the configuration against the live systems');
  test
    .command('mailflow')
    .description('check every mail path: configuration, next hops, recipient callouts, and with --send probe messages traced to their hop')
    .option('--send', 'send one probe per path to mailflow.probeRecipients and follow it by trace')
    .option('--sample <n>', 'recipients per connector for the callouts (default mailflow.sample)')
    .option('--all', 'every routed recipient (rate-limited)')
    .option('--json', 'the report as JSON')
    .addOption(configOption())
    .action((flags: MailflowFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./mailflow-command.js')).mailflowCommand(flags);
      }),
    );
}

function tableCommands(program: Command, run: Run): void {
  const table = () => import('./table-commands.js');
  program
    .command('resolve')
    .description('print the routing decision for addresses')
    .argument('<address...>')
    .option('--json', 'one JSON object per address')
    .option('--from-trusted', 'decide as for a trusted client (outbound relaying allowed)')
    .addOption(configOption())
    .action((addresses: string[], flags: CommonFlags & { fromTrusted?: boolean }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).resolveCommand(addresses, flags);
      }),
    );

  program
    .command('status')
    .description('table version, sources, conflicts')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).statusCommand(flags);
      }),
    );

  program
    .command('conflicts')
    .description('addresses claimed by more than one object, with winner and quarantined losers')
    .option('--json', 'one JSON object per conflict')
    .addOption(configOption())
    .action((flags: CommonFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).conflictsCommand(flags);
      }),
    );

  program
    .command('rollback')
    .description('republish an older state (the whole table, or one source) after showing the diff; pins the sources it changes')
    .option('--source <name>', 'restore only this source (the others keep their state)')
    .option('--to <version>', 'kept table version to take the state from (default: the previous one)')
    .option('--yes', 'do not ask for confirmation (required without a terminal)')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags & { to?: string; source?: string; yes?: boolean }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).rollbackCommand(flags);
      }),
    );

  program
    .command('resume')
    .description('unpin a source a rollback paused and run a full (guarded) sync of it')
    .argument('<source>', 'source name from the configuration')
    .option('--json')
    .addOption(configOption())
    .action((source: string, flags: CommonFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).resumeCommand(source, flags);
      }),
    );

  const source = program.command('source').description('sources in the table');
  source
    .command('remove')
    .description('publish a table version without a source that is no longer configured (deletion guard applies)')
    .argument('<name>', 'the source to take out of the table')
    .option('--allow-mass-delete', 'override the deletion guard (removing a source deletes all its objects)')
    .option('--json')
    .addOption(configOption())
    .action((name: string, flags: CommonFlags & { allowMassDelete?: boolean }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await table()).sourceRemoveCommand(name, flags);
      }),
    );
}

function adminCommands(program: Command, run: Run): void {
  const config = program.command('config').description('configuration commands');
  config
    .command('check')
    .description('validate the configuration and print it with secrets redacted')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./config-command.js')).configCheckCommand(flags);
      }),
    );
  config
    .command('init')
    .description('write an annotated example configuration to start from')
    .addOption(new Option('--out <file>', 'where to write it').default(defaultConfigPath(), '$SWITCHYARD_CONFIG or ./switchyard.yaml'))
    .option('--force', 'overwrite an existing file')
    .action((flags: { out: string; force?: boolean }) => run(async () => (await import('./config-init.js')).configInitCommand(flags)));

  program
    .command('reload')
    .description('ask every relay and worker of the namespace to re-read its configuration (as SIGHUP does)')
    .addOption(configOption())
    .action((flags: { config: string }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./reload-command.js')).reloadCommand(flags);
      }),
    );

  program
    .command('migrate')
    .description("bring the data in Redis to this version's layout")
    .addOption(configOption())
    .action((flags: { config: string }, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./migrate-command.js')).migrateCommand(flags);
      }),
    );
}

function contactsCommands(program: Command, run: Run): void {
  const contacts = program
    .command('contacts')
    .description('contacts for the other side: the mail contacts each directory needs (GAL sync)');
  contacts
    .command('export')
    .description("write the contacts another directory should hold for a source's mailboxes and groups (csvde or LDIF)")
    .requiredOption('--from <source>', 'source whose objects are exported (from the table)')
    .requiredOption('--routing-domain <domain>', "the source's routing domain: where the contacts' targetAddress points")
    .requiredOption('--ou <dn>', 'the OU the contacts go in')
    .option('--format <format>', 'csvde (csvde -i -f FILE) or ldif (ldapmodify -f FILE)', 'csvde')
    .option('--unicode', 'UTF-16LE with BOM (csvde -u)')
    .option('--out <file>', 'write to a file instead of stdout')
    .addOption(configOption())
    .action((flags: ExportFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./contacts-command.js')).contactsExportCommand(flags);
      }),
    );
  contacts
    .command('apply')
    .description("create, update, rename and delete the managed contacts in an LDAP source's OU")
    .requiredOption('--from <source>', 'source whose objects get contacts')
    .requiredOption('--to <ldap-source>', 'LDAP source the contacts are written into')
    .requiredOption('--ou <dn>', 'the managed OU (nothing outside it is ever written)')
    .requiredOption('--routing-domain <domain>', "the from source's routing domain: where the contacts' targetAddress points")
    .option('--dry-run', 'print what would change, write nothing')
    .option('--allow-mass-delete', 'override the deletion guard')
    .option('--json', 'print the result as JSON')
    .option('--inline', 'run in this process even when a worker is listening')
    .addOption(configOption())
    .action((flags: ApplyFlags, cmd: Command) =>
      run(async () => {
        configured(cmd, flags);
        return (await import('./contacts-command.js')).contactsApplyCommand(flags);
      }),
    );
}

function build(run: Run): Command {
  const program = new Command('switchyard')
    .description('Directory-driven SMTP routing for mail systems that share one domain')
    .version(packageVersion(), '-V, --version', 'print the version')
    .exitOverride()
    .showHelpAfterError();
  syncCommands(program, run);
  serveCommands(program, run);
  queueCommands(program, run);
  traceCommands(program, run);
  testCommands(program, run);
  tableCommands(program, run);
  adminCommands(program, run);
  contactsCommands(program, run);
  return program;
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

export async function main(argv: readonly string[]): Promise<number> {
  const outcome: { pending: Promise<number> | number } = { pending: 0 };
  const program = build((task) => {
    const pending = Promise.resolve().then(task);
    outcome.pending = pending;
    return pending.then(() => undefined);
  });
  try {
    await program.parseAsync([...argv]);
    return await outcome.pending;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.code === 'commander.helpDisplayed' || err.code === 'commander.version' || err.code === 'commander.help' ? 0 : 2;
    }
    if (err instanceof UsageError) {
      process.stderr.write(`switchyard: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`switchyard: ${reason(err)}\n`);
    return 1;
  }
}
