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
import type { ImportFlags } from './import-command.js';
import type { SyncFlags } from './sync-command.js';
import { UsageError } from './usage-error.js';
import { configOption, configured, type CommonFlags, type Run, type ServeFlags } from './command-kit.js';
import { contactsCommands, queueCommands, testCommands, traceCommands } from './mail-commands.js';

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
        // a large file's parsing thread starts now: its start-up and first batches overlap the
        // loading of the import's modules, its configuration and its Redis connection (B1)
        const prefetched = (await import('../directory/csvde/parse-thread.js')).prefetchCsvde(file);
        return (await import('./import-command.js')).importCommand(file, flags, prefetched);
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
