/** The deploy files are well-formed, and the configurations they carry pass validation. */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { parseConfig } from '../../src/config/load.js';
import { projectRoot } from '../../src/main/paths.js';

const deploy = join(projectRoot(), 'deploy');
const docs = (file: string) =>
  parseAllDocuments(readFileSync(file, 'utf8')).map((d) => {
    expect(d.errors).toEqual([]);
    return d.toJS() as { kind: string; metadata: { name: string }; spec?: Record<string, unknown>; data?: Record<string, string> };
  });

describe('deploy files', () => {
  it('Kubernetes: a relay Deployment of at least 2 replicas with a PodDisruptionBudget, a worker, a ConfigMap whose config validates, a Secret', () => {
    const all = readdirSync(join(deploy, 'kubernetes')).flatMap((f) => docs(join(deploy, 'kubernetes', f)));
    const kinds = all.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    expect(kinds).toEqual([
      'ConfigMap/switchyard-config',
      'Deployment/switchyard-relay',
      'Deployment/switchyard-worker',
      'PodDisruptionBudget/switchyard-relay',
      'Secret/switchyard-secrets',
      'Service/switchyard-smtp',
    ]);
    const relay = all.find((d) => d.kind === 'Deployment' && d.metadata.name === 'switchyard-relay');
    expect(Number(relay?.spec?.replicas)).toBeGreaterThanOrEqual(2);
    // a CPU request is the pod's CPU weight on a busy node: the relay's outweighs the worker's
    // as Nice=10 does (systemd) and cpu_shares 128 (compose), and neither has a CPU limit
    const cpu = (name: string): { request: number; limit: unknown } => {
      const d = all.find((x) => x.kind === 'Deployment' && x.metadata.name === name) as
        | { spec: { template: { spec: { containers: { resources: { requests: { cpu: string }; limits?: { cpu?: unknown } } }[] } } } }
        | undefined;
      const resources = d?.spec.template.spec.containers[0]?.resources;
      const raw = String(resources?.requests.cpu ?? '');
      return { request: raw.endsWith('m') ? Number(raw.slice(0, -1)) / 1000 : Number(raw), limit: resources?.limits?.cpu };
    };
    expect(cpu('switchyard-relay').request).toBeGreaterThanOrEqual(4 * cpu('switchyard-worker').request);
    expect(cpu('switchyard-worker').request).toBeGreaterThan(0);
    expect([cpu('switchyard-relay').limit, cpu('switchyard-worker').limit]).toEqual([undefined, undefined]);
    const config = all.find((d) => d.kind === 'ConfigMap')?.data?.['switchyard.yaml'] ?? '';
    const parsed = parseConfig(parse(config), 'configmap.yaml', {});
    expect(parsed.redis.sentinel?.sentinels).toHaveLength(3);
    expect(parsed.redis.waitReplicas).toBe(1);
  });

  it('docker-compose has Redis with persistence, a worker at a lower CPU weight and a relay; the example config validates', () => {
    const compose = parse(readFileSync(join(deploy, 'docker-compose.yml'), 'utf8')) as {
      services: Record<string, { volumes?: string[]; cpu_shares?: number }>;
    };
    expect(Object.keys(compose.services).sort()).toEqual(['redis', 'relay', 'worker']);
    expect(compose.services.redis?.volumes).toContain('redis-data:/data');
    // Docker's default weight is 1024: the worker's must be below the relay's
    expect(compose.services.worker?.cpu_shares).toBeLessThan(compose.services.relay?.cpu_shares ?? 1024);
    expect(() => parseConfig(parse(readFileSync(join(deploy, 'switchyard.example.yaml'), 'utf8')), 'example', {})).not.toThrow();
  });

  it('systemd units start the relay and the worker from the one config, the worker at a lower priority', () => {
    const relay = readFileSync(join(deploy, 'systemd', 'switchyard-relay.service'), 'utf8');
    const worker = readFileSync(join(deploy, 'systemd', 'switchyard-worker.service'), 'utf8');
    expect(relay).toMatch(/^ExecStart=.*switchyard\.js relay/m);
    expect(worker).toMatch(/^ExecStart=.*switchyard\.js worker/m);
    expect(worker).toMatch(/^Nice=10$/m);
    expect(readFileSync(join(deploy, 'redis.conf'), 'utf8')).toMatch(
      /^appendonly yes$[\s\S]*^maxmemory-policy noeviction$|^maxmemory-policy noeviction$[\s\S]*^appendonly yes$/m,
    );
  });

  it('redis.conf caps memory well above the default queue budget and keeps replicas through large bursts', () => {
    const conf = readFileSync(join(deploy, 'redis.conf'), 'utf8');
    const units: Record<string, number> = { kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };
    const m = /^maxmemory (\d+)(kb|mb|gb)$/m.exec(conf);
    const maxmemory = Number(m?.[1]) * (units[m?.[2] ?? ''] ?? 0);
    const defaults = parseConfig({}, 'defaults', {});
    // every queue shard on one server, each full to its budget, is at most 60 % of maxmemory
    expect(defaults.queue.shards * defaults.relay.queueBudget).toBeLessThanOrEqual(0.6 * maxmemory);
    expect(conf).toMatch(/^client-output-buffer-limit replica (\d+)gb (\d+)gb \d+$/m);
  });

  it('the container image copies only what ships: no test/, testkit/ (test servers) or bench/, no whole-context COPY', () => {
    const lines = readFileSync(join(deploy, 'Dockerfile'), 'utf8')
      .split('\n')
      .filter((l) => /^(COPY|ADD)\s/i.test(l) && !/--from=/.test(l));
    const copied = lines.flatMap((l) => l.trim().split(/\s+/).slice(1, -1));
    expect(copied.length).toBeGreaterThan(0);
    for (const path of copied) {
      expect(path, `Dockerfile copies ${path}`).not.toMatch(/^(\.\/)?(test|testkit|bench)(\/|$)/);
      expect(path, 'Dockerfile copies the whole build context').not.toMatch(/^\.\/?$/);
    }
    expect(copied).toEqual(expect.arrayContaining(['src', 'jobs', 'bin']));
  });
});

describe('admin HTTP in the shipped deployments (SPEC §7)', () => {
  it('Kubernetes: admin off loopback with tokenEnv from the Secret, probes on /healthz or TCP, Prometheus with the bearer token', () => {
    const all = readdirSync(join(deploy, 'kubernetes')).flatMap((f) => docs(join(deploy, 'kubernetes', f)));
    const config = parseConfig(parse(all.find((d) => d.kind === 'ConfigMap')?.data?.['switchyard.yaml'] ?? ''), 'configmap.yaml', {});
    const tokenEnv = config.admin.tokenEnv ?? '';
    expect(tokenEnv).not.toBe('');
    const secret = all.find((d) => d.kind === 'Secret') as { stringData?: Record<string, string> } | undefined;
    expect(Object.keys(secret?.stringData ?? {})).toContain(tokenEnv);
    const text = readdirSync(join(deploy, 'kubernetes'))
      .map((f) => readFileSync(join(deploy, 'kubernetes', f), 'utf8'))
      .join('\n');
    expect(text).toMatch(/readinessProbe:\s*#[^\n]*\n\s*httpGet: \{ path: \/healthz, port: admin \}/);
    // no annotation-based scrape without a token: the scrape config sends the bearer header
    expect(text).not.toContain('prometheus.io/scrape');
    const scrape = parse(readFileSync(join(deploy, 'prometheus', 'scrape.yaml'), 'utf8')) as {
      scrape_configs: { metrics_path: string; authorization: { type: string; credentials_file: string } }[];
    };
    expect(scrape.scrape_configs[0]).toMatchObject({ metrics_path: '/metrics', authorization: { type: 'Bearer' } });
    expect(scrape.scrape_configs[0]?.authorization.credentials_file).toContain(tokenEnv);
  });

  it('the image and compose start the admin on 0.0.0.0 only with a token named in their configuration', () => {
    expect(readFileSync(join(deploy, 'Dockerfile'), 'utf8')).toMatch(/admin\.tokenEnv/);
    expect(readFileSync(join(deploy, 'docker-compose.yml'), 'utf8')).toMatch(/SWITCHYARD_ADMIN_TOKEN/);
  });
});
