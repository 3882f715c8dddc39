/**
 * The probe's configuration inputs (issue 12 item 7), each with its exact input: `config
 * check` refuses what start-up would fail on, naming the key, and a start-up failure
 * `switchyard relay` meets anyway exits 1 naming its key instead of hanging. Runs the built
 * CLI (dist/).
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { stringify } from 'yaml';

const BIN = join(import.meta.dirname, '..', '..', 'bin', 'switchyard.js');
const dir = mkdtempSync(join(tmpdir(), 'sy-probe-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], timeoutMs = 20_000): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, REDIS_URL: '', LOG_LEVEL: 'silent' }, timeout: timeoutMs, killSignal: 'SIGKILL' },
      (err, stdout, stderr) => resolve({ code: err ? (typeof err.code === 'number' ? err.code : null) : 0, stdout, stderr }),
    );
  });
}

function configWith(name: string, relay: Record<string, unknown>, redisUrl = 'redis://127.0.0.1:6379'): string {
  const file = join(dir, name);
  writeFileSync(
    file,
    stringify({
      redis: { url: redisUrl, namespace: `probe-${name.replace(/\W/g, '')}` },
      connectors: [{ name: 'onprem', smartHosts: ['10.0.0.10:25'] }],
      relay: { hostname: 'mx.test.contoso.edu', ...relay },
    }),
  );
  return file;
}

describe('config check catches what start-up would fail on', () => {
  it('an invalid CIDR in relay.trustedNetworks', async () => {
    const r = await cli(['config', 'check', '--config', configWith('cidr.yaml', { trustedNetworks: ['10.0.0.0/33'] })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cidr.yaml: relay.trustedNetworks[0]: "10.0.0.0/33" prefix length /33 out of range (0-32)');
    const bad = await cli(['config', 'check', '--config', configWith('cidr2.yaml', { trustedNetworks: ['300.1.2.3/8'] })]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('relay.trustedNetworks[0]: "300.1.2.3/8" not an IP address or CIDR block');
  });

  it('a missing relay.tls.cert file', async () => {
    const key = join(dir, 'tls.key');
    writeFileSync(key, 'not checked here\n');
    const missing = join(dir, 'missing.crt');
    const r = await cli(['config', 'check', '--config', configWith('tls.yaml', { tls: { key, cert: missing } })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`tls.yaml: relay.tls.cert: cannot read ${missing}: ENOENT`);
    expect(r.stderr).not.toContain('relay.tls.key');
  });

  it('a relay.tls pair that is not a key and certificate', async () => {
    const key = join(dir, 'garbage.key');
    const cert = join(dir, 'garbage.crt');
    writeFileSync(key, 'not a key\n');
    writeFileSync(cert, 'not a certificate\n');
    const r = await cli(['config', 'check', '--config', configWith('garbage.yaml', { tls: { key, cert } })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('garbage.yaml: relay.tls: the key and certificate cannot be used: ');
  });

  it('port 99999', async () => {
    const r = await cli(['config', 'check', '--config', configWith('port.yaml', { listen: ['127.0.0.1:99999'] })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('port.yaml: relay.listen[0]: port out of range (0-65535)');
  });
});

describe('switchyard relay: a start-up error exits 1 naming the key', () => {
  it('port 99999 in relay.listen: exits 1 at once, neither listening nor hanging', async () => {
    const r = await cli(['relay', '--config', configWith('relay-port.yaml', { listen: ['127.0.0.1:99999'] })]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('relay.listen[0]: port out of range (0-65535)');
    expect(r.stdout).not.toContain('relay listening');
  });

  let busy: Server | undefined;
  afterAll(() => busy?.close());
  it('a listen address already in use: exits 1 naming relay.listen[0] (after Redis was connected)', async () => {
    busy = createServer();
    const port = await new Promise<number>((resolve) =>
      busy!.listen(0, '127.0.0.1', () => resolve((busy!.address() as { port: number }).port)),
    );
    const r = await cli(['relay', '--config', configWith('relay-busy.yaml', { listen: [`127.0.0.1:${port}`] }, inject('redisUrl'))]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`relay.listen[0]: cannot listen on 127.0.0.1:${port}: EADDRINUSE`);
  });
});
