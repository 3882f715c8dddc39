/**
 * Registration of the mail-side and coexistence commands: `queue`, `trace`, `audit`,
 * `test mailflow` and `contacts`. As in main.ts, each action imports its own module.
 */
import type { Command } from 'commander';
import type { ApplyFlags, ExportFlags } from './contacts-command.js';
import type { QueueAction, QueueFlags } from './queue-command.js';
import type { TraceFlags } from './trace-command.js';
import type { MailflowFlags } from './mailflow-command.js';
import { configOption, configured, type CommonFlags, type Run } from './command-kit.js';

export function queueCommands(program: Command, run: Run): void {
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

export function traceCommands(program: Command, run: Run): void {
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

export function testCommands(program: Command, run: Run): void {
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

export function contactsCommands(program: Command, run: Run): void {
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
