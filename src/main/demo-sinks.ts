/**
 * The demo's stand-in mail systems: small SMTP servers on free loopback ports that take
 * every message and remember who it was for (on-premises, cloud, next hop, internet).
 */
import { SMTPServer } from 'smtp-server';

export interface DemoSink {
  readonly name: string;
  readonly port: number;
  readonly received: { from: string; to: string[]; subject: string }[];
  close(): Promise<void>;
}

export async function startDemoSink(name: string): Promise<DemoSink> {
  const received: DemoSink['received'] = [];
  const server = new SMTPServer({
    logger: false,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    disableReverseLookup: true,
    banner: `demo ${name} mail system`,
    onData(stream, session, cb) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const env = session.envelope;
        received.push({
          from: env.mailFrom ? env.mailFrom.address : '',
          to: env.rcptTo.map((r) => r.address),
          subject: /^Subject: (.*)$/im.exec(text)?.[1]?.trim() ?? '',
        });
        cb(null, `delivered to the ${name} mailbox server`);
      });
    },
  });
  server.on('error', () => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    name,
    port: (server.server.address() as { port: number }).port,
    received,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
