/**
 * The `switchyard` command line. Exit codes (SPEC §7): 0 success, 1 failure with a
 * one-line reason on stderr, 2 usage error.
 */
import { Command, CommanderError, Option } from 'commander';
import { defaultConfigPath } from '../config/load.js';
import { configCheckCommand } from './config-command.js';
import { demoCommand } from './demo.js';
import { importCommand, type ImportFlags } from './import-command.js';
import { syncCommand, type SyncFlags } from './sync-command.js';
import { workerCommand } from './worker-command.js';
import { queueCommand, type QueueAction, type QueueFlags } from './queue-command.js';
import { relayCommand } from './relay-command.js';
import { passwdCommand } from './passwd-command.js';
import { upCommand } from './up-command.js';
import { conflictsCommand, resolveCommand, rollbackCommand, statusCommand } from './table-commands.js';
import { UsageError } from './usage-error.js';

interface CommonFlags {
  readonly config: string;
  readonly json?: boolean;
}

interface ServeFlags {
  readonly config: string;
  readonly adminListen?: string;
}

function configOption(): Option {
  return new Option('--config <file>', 'configuration file').default(defaultConfigPath(), '$SWITCHYARD_CONFIG or ./switchyard.yaml');
}

function build(run: (p: Promise<number> | number) => void): Command {
  const program = new Command('switchyard')
    .description('Directory-driven SMTP routing for mail systems that share one domain')
    .exitOverride()
    .showHelpAfterError();

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
    .action((file: string, flags: ImportFlags) => run(importCommand(file, flags)));

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
    .action((source: string | undefined, flags: SyncFlags) => run(syncCommand(source, flags)));

  program
    .command('worker')
    .description('run the sync and import jobs and the schedules until SIGTERM')
    .option('--admin-listen <host:port>', 'also serve /healthz, /metrics, the status page and the job dashboard here')
    .addOption(configOption())
    .action((flags: ServeFlags) => run(workerCommand(flags)));

  program
    .command('up')
    .description('everything on one machine: worker, schedules, relay and admin HTTP, until SIGTERM')
    .option('--admin-listen <host:port>', 'admin HTTP address (default: admin.listen)')
    .addOption(configOption())
    .action((flags: ServeFlags) => run(upCommand(flags)));

  program
    .command('relay')
    .description('run the SMTP relay and its deliveries until SIGTERM')
    .option('--admin-listen <host:port>', 'also serve /healthz, /metrics and the status page here')
    .addOption(configOption())
    .action((flags: ServeFlags) => run(relayCommand(flags)));

  program
    .command('passwd')
    .description('read a password on stdin and print the relay.auth.usersFile line for USER')
    .argument('<user>')
    .action((user: string) => run(passwdCommand(user)));

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
      .action((ids: string[], flags: QueueFlags) => run(queueCommand(action, ids, flags)));
  }

  program
    .command('resolve')
    .description('print the routing decision for addresses')
    .argument('<address...>')
    .option('--json', 'one JSON object per address')
    .option('--from-trusted', 'decide as for a trusted client (outbound relaying allowed)')
    .addOption(configOption())
    .action((addresses: string[], flags: CommonFlags & { fromTrusted?: boolean }) => run(resolveCommand(addresses, flags)));

  program
    .command('status')
    .description('table version, sources, conflicts')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags) => run(statusCommand(flags)));

  program
    .command('conflicts')
    .description('addresses claimed by more than one object, with winner and quarantined losers')
    .option('--json', 'one JSON object per conflict')
    .addOption(configOption())
    .action((flags: CommonFlags) => run(conflictsCommand(flags)));

  program
    .command('rollback')
    .description('republish the previous (or a given) kept table version')
    .option('--to <version>', 'kept version to restore')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags & { to?: string }) => run(rollbackCommand(flags)));

  program
    .command('config')
    .description('configuration commands')
    .command('check')
    .description('validate the configuration and print it with secrets redacted')
    .option('--json')
    .addOption(configOption())
    .action((flags: CommonFlags) => run(configCheckCommand(flags)));

  program
    .command('demo')
    .description('the demo organisation on a private Redis: import, relay, demo mail systems, sample messages, status page')
    .option('--exit', 'exit once ready instead of staying up')
    .action((flags: { exit?: boolean }) => run(demoCommand(flags)));
  return program;
}

function reason(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.split('\n')[0] ?? msg;
}

export async function main(argv: readonly string[]): Promise<number> {
  const outcome: { pending: Promise<number> | number } = { pending: 0 };
  const program = build((p) => {
    outcome.pending = p;
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
