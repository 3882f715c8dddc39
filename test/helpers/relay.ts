/**
 * A relay under test: four sinks (on-premises, cloud, legacy next hop, internet), the demo
 * configuration pointed at them, the demo directory imported, and the relay in-process.
 */
import { importCsvde } from '../../src/pipeline/import-csvde.js';
import { createLogger } from '../../src/log/logger.js';
import { startRelay, type RunningRelay } from '../../src/main/relay.js';
import { csvFixture, onlySources, testEnv, type TestEnv } from './env.js';
import { startSink, type Sink, type SinkOptions } from './smtp.js';

export interface RelayEnv {
  readonly env: TestEnv;
  readonly sinks: { onprem: Sink; cloud: Sink; legacy: Sink; internet: Sink };
  relay?: RunningRelay;
  readonly port: number;
  startRelay(): Promise<RunningRelay>;
  cleanup(): Promise<void>;
}

export interface RelayEnvOptions {
  readonly sinks?: Partial<Record<'onprem' | 'cloud' | 'legacy' | 'internet', SinkOptions>>;
  readonly relay?: Record<string, unknown>;
  readonly adjust?: (raw: Record<string, unknown>) => void;
  /**
   * The configured sources (default: only `corp`, the one the helper imports, so the table
   * is complete). A test that configures more publishes them itself, or tests incompleteness.
   */
  readonly sources?: readonly ('corp' | 'students')[];
  /** Import the demo directory (default) or leave the table unpublished. */
  readonly publish?: boolean;
  readonly start?: boolean;
  /** Another Redis than the shared test server (fault tests that restart it). */
  readonly redisUrl?: string;
}

/** Relay settings that make retries and lease hand-overs take seconds in tests. */
export const FAST_RELAY = { retryFirst: '300ms', retryMax: '2s', deliveryLease: '3s', delayWarning: 'off' };

/** The ports a `relay.listen` list names (a test that spawns its relay reserves one with freePort, then lets it go). */
function listenPorts(listen: unknown): Set<number> {
  const entries = Array.isArray(listen) ? listen.map(String) : [];
  return new Set(entries.map((l) => Number(/:(\d+)$/.exec(l)?.[1] ?? 0)).filter((p) => p > 0));
}

/**
 * A sink on a port other than `ports`: the kernel may hand a sink the port a test reserved for
 * its relay and let go, and a smart host on the relay's own listener is refused as a loop. The
 * sink that got one is closed only once its replacement listens elsewhere.
 */
async function sinkAvoiding(ports: ReadonlySet<number>, options: SinkOptions): Promise<Sink> {
  const taken: Sink[] = [];
  let sink = await startSink(options);
  while (ports.has(sink.port)) {
    taken.push(sink);
    sink = await startSink(options);
  }
  await Promise.all(taken.map((s) => s.close()));
  return sink;
}

export async function relayEnv(o: RelayEnvOptions = {}): Promise<RelayEnv> {
  const [onprem, cloud, legacy, internet] = await Promise.all(
    (['onprem', 'cloud', 'legacy', 'internet'] as const).map((n) => sinkAvoiding(listenPorts(o.relay?.listen), o.sinks?.[n] ?? {})),
  );
  const sinks = { onprem: onprem!, cloud: cloud!, legacy: legacy!, internet: internet! };
  const env = await testEnv(
    (raw) => {
      const connectors = raw.connectors as { name: keyof typeof sinks; smartHosts: string[] }[];
      for (const c of connectors) c.smartHosts = [`127.0.0.1:${sinks[c.name].port}`];
      raw.relay = {
        listen: ['127.0.0.1:0'],
        hostname: 'mx.test.contoso.edu',
        trustedNetworks: ['127.0.0.1/32'],
        ...FAST_RELAY,
        ...o.relay,
      };
      onlySources(...(o.sources ?? ['corp']))(raw);
      o.adjust?.(raw);
    },
    ...(o.redisUrl ? [o.redisUrl] : []),
  );
  if (o.publish !== false) await importCsvde(env.deps, env.source('corp'), csvFixture('contoso.csv'));
  const self: RelayEnv = {
    env,
    sinks,
    get port() {
      return self.relay?.addresses[0]?.port ?? 0;
    },
    async startRelay() {
      self.relay = await startRelay({
        config: env.config,
        log: createLogger('relay-test', process.env.TEST_LOG_LEVEL ?? 'silent'),
        pollMs: 100,
      });
      return self.relay;
    },
    async cleanup() {
      await self.relay?.close(2000);
      await Promise.all(Object.values(sinks).map((s) => s.close()));
      await env.cleanup();
    },
  };
  if (o.start !== false) await self.startRelay();
  return self;
}
