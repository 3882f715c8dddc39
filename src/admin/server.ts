/**
 * Admin HTTP (SPEC §7): /healthz, /metrics, the BullMQ dashboard under /queues, the status
 * page and its JSON API. Loopback by default; off loopback a token is required (refused at
 * start otherwise) and every route but /healthz and the sign-in needs it: the bearer header
 * or the sign-in cookie (security.ts, with the Host, Origin and JSON checks). `createAdmin`
 * builds the app without listening, so tests can run it in-process.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Config } from '../config/schema.js';
import { splitHostPort } from '../config/host-port.js';
import type { Logger } from '../log/logger.js';
import { createQueueStore } from '../mailqueue/store.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Queues } from '../jobqueue/queues.js';
import type { Resolver } from '../resolver/resolver.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { readRuns } from '../store/runs.js';
import { readSourceReports } from '../store/source-report.js';
import { sourceReportsJson } from '../report/source-reports.js';
import { sourceSchedule } from '../store/source-schedule.js';
import { listConflicts, readStatus } from '../store/status.js';
import { readCurrent, RollbackError } from '../store/table.js';
import { applyRollback, planRollback } from '../pipeline/rollback.js';
import { decisionJson, stalenessJson, statusJson } from '../report/json.js';
import { completeness, readStaleness } from '../report/health.js';
import { statusPage } from './status-page.js';
import { signInPage } from './signin-page.js';
import { adminListenProblem, clearedCookieHeader, hostCheck, signIn, stateChangeGuard, tokenGuard } from './security.js';
import { ADMIN_OPERATOR, traceRoutes } from './trace-routes.js';
import { audited } from '../audit/log.js';

export interface AdminDeps {
  readonly config: Config;
  readonly redis: RedisClient;
  readonly keys: Keys;
  readonly resolver: Resolver;
  readonly metrics: Metrics;
  readonly logger: Logger;
  /** BullMQ queues for the dashboard (absent: no /queues). */
  readonly queues?: Queues;
  /** Bearer token; required for everything but /healthz when set. */
  readonly token?: string;
}

const CONFLICTS_SHOWN = 200;

/** The largest JSON body the API reads (a rollback or sign-in is a few bytes). */
const BODY_LIMIT = '16kb';

/** A body-parser error (413 too large, 400 malformed JSON) is the client's, not a 503. */
function clientError(err: unknown): { status: number; message: string } | undefined {
  const e = err as { status?: unknown; type?: unknown; expose?: unknown } | undefined;
  if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return undefined;
  if (e.type === 'entity.too.large') return { status: 413, message: `the body is larger than ${BODY_LIMIT}` };
  if (e.type === 'entity.parse.failed') return { status: 400, message: 'the body is not valid JSON' };
  return { status: e.status, message: err instanceof Error ? err.message : 'bad request' };
}

const wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

export function createAdmin(deps: AdminDeps): express.Express {
  const { redis, keys, config } = deps;
  const app = express();
  app.disable('x-powered-by');

  app.get(
    '/healthz',
    wrap(async (_req, res) => {
      let redisOk = false;
      let current: Awaited<ReturnType<typeof readCurrent>>;
      let stale: string[] = [];
      try {
        redisOk = (await redis.ping()) === 'PONG';
        current = await readCurrent(redis, keys);
      } catch {
        redisOk = false;
      }
      if (redisOk) {
        // a stale source is reported, never a reason to be unready (SPEC §2.2)
        stale = (await readStaleness(redis, keys, config).catch(() => [])).filter((s) => s.stale).map((s) => s.source);
      }
      const version = current?.version;
      const ready = redisOk && version !== undefined;
      // an incomplete table is still ready (it routes what it has, 451 for the rest): say what is missing
      const health = completeness(config, current?.snapshots.keys() ?? []);
      res.status(ready ? 200 : 503).json({
        status: ready ? 'ready' : 'unready',
        redis: redisOk ? 'ok' : 'unavailable',
        tableVersion: version ?? null,
        complete: ready && health.complete,
        missingSources: ready ? health.missingSources : config.sources.map((s) => s.name),
        staleSources: stale,
      });
    }),
  );

  app.use(hostCheck(config.admin.allowedHosts));
  app.use(stateChangeGuard);
  app.use(express.json({ limit: BODY_LIMIT }));
  if (deps.token !== undefined) {
    const token = deps.token;
    app.get('/signin', (_req, res) => {
      res.type('html').send(signInPage(config.relay.hostname));
    });
    app.post('/api/signin', signIn(token));
    app.post('/api/signout', (_req, res) => {
      res.set('set-cookie', clearedCookieHeader).json({ ok: true });
    });
    app.use(tokenGuard(token));
  }

  app.get(
    '/metrics',
    wrap(async (_req, res) => {
      res.set('content-type', deps.metrics.contentType).send(await deps.metrics.scrape());
    }),
  );

  // conflicts change only with a publish, and finding those between sources scans every
  // address: computed once per table version, not on every refresh of the page
  let conflictsOf: { version: number | undefined; list: Awaited<ReturnType<typeof listConflicts>> } | undefined;
  app.get(
    '/api/status',
    wrap(async (_req, res) => {
      const [status, schedule, runs, queue, reports] = await Promise.all([
        readStatus(redis, keys),
        sourceSchedule(redis, keys, config),
        readRuns(redis, keys),
        createQueueStore(redis, keys, { shards: config.queue.shards }).depth(),
        readSourceReports(redis, keys),
      ]);
      const version = status.current?.version;
      if (!conflictsOf || conflictsOf.version !== version) conflictsOf = { version, list: await listConflicts(redis, keys) };
      const conflicts = conflictsOf.list;
      res.json({
        table: {
          ...statusJson(status, conflicts.length, completeness(config, status)),
          ...stalenessJson(await readStaleness(redis, keys, config, status)),
        },
        conflicts: conflicts.slice(0, CONFLICTS_SHOWN),
        schedule,
        runs: Object.fromEntries(runs),
        queue,
        entries: sourceReportsJson(reports),
      });
    }),
  );

  app.get(
    '/api/resolve',
    wrap(async (req, res) => {
      const address = typeof req.query.address === 'string' ? req.query.address.trim() : '';
      if (address === '') {
        res.status(400).json({ error: 'address is required' });
        return;
      }
      const [d] = await deps.resolver.resolve([address], req.query.trusted === '1');
      res.json(d ? decisionJson(d) : { error: 'no decision' });
    }),
  );

  app.post(
    '/api/rollback',
    wrap(async (req, res) => {
      const body = req.body as { to?: unknown; source?: unknown } | undefined;
      const to = typeof body?.to === 'number' ? body.to : undefined;
      const source = typeof body?.source === 'string' && body.source !== '' ? body.source : undefined;
      try {
        // the same rules as `switchyard rollback`: refusals, pins, watermarks dropped
        const plan = await planRollback(redis, keys, config, { ...(to !== undefined ? { to } : {}), ...(source ? { source } : {}) });
        const r = await audited(
          redis,
          keys,
          config.audit.maxEntries,
          ADMIN_OPERATOR,
          'rollback',
          `${source ? `source ${source}` : 'table'} to version ${to ?? 'previous'}`,
          () => applyRollback(redis, keys, config, plan),
          (v) => `published version ${v.version}`,
        );
        deps.logger.warn(
          { event: 'SY_ROLLBACK', version: r.version, restored: r.restored, source, pinned: r.pinned, via: 'admin' },
          'table rolled back',
        );
        res.json({ ...r, changes: plan.changes });
      } catch (err) {
        if (!(err instanceof RollbackError)) throw err;
        res.status(409).json({ error: err.message });
      }
    }),
  );

  traceRoutes(app, { redis, keys, config });

  if (deps.queues) {
    const board = new ExpressAdapter();
    board.setBasePath('/queues');
    createBullBoard({ queues: [new BullMQAdapter(deps.queues.sync), new BullMQAdapter(deps.queues.import)], serverAdapter: board });
    app.use('/queues', board.getRouter() as express.Router); // @bull-board types its router as any
  }

  app.get('/', (_req, res) => {
    res.type('html').send(statusPage(config.relay.hostname));
  });

  app.use((err: unknown, _req: Request, res: Response, _next: NextFunction) => {
    const client = clientError(err);
    if (client) {
      res.status(client.status).json({ error: client.message });
      return;
    }
    deps.logger.error({ event: 'SY_ADMIN_ERROR', err: String(err) }, 'admin request failed');
    res.status(503).json({ error: err instanceof Error ? err.message.split('\n')[0] : String(err) });
  });
  return app;
}

export class AdminListenError extends Error {
  readonly code = 'SY_CONFIG';
}

export interface RunningAdmin {
  readonly url: string;
  close(): Promise<void>;
}

export async function startAdmin(deps: AdminDeps, listen = deps.config.admin.listen): Promise<RunningAdmin> {
  const app = createAdmin(deps);
  const { host, port } = splitHostPort(listen, 8025);
  const problem = adminListenProblem(
    listen,
    host,
    deps.token !== undefined,
    listen === deps.config.admin.listen ? undefined : '--admin-listen',
  );
  if (problem) throw new AdminListenError(problem);
  const server: Server = await new Promise((resolve, reject) => {
    const s = app.listen(port, host, () => resolve(s));
    s.once('error', reject);
  });
  const addr = server.address() as AddressInfo;
  const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${shown}:${addr.port}/`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
