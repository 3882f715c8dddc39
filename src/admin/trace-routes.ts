/**
 * The status page's message-trace routes (SPEC §11): the same search as `switchyard trace`,
 * the audit log, the last mail-flow test, and mail per connector over time.
 */
import type express from 'express';
import type { Request, Response, NextFunction } from 'express';
import type { Config } from '../config/schema.js';
import { DURATION, parseDuration } from '../config/duration.js';
import { readAudit } from '../audit/log.js';
import { lastMailflow } from '../mailflow/run.js';
import type { Keys } from '../store/keys.js';
import type { RedisClient } from '../store/redis.js';
import { traceSettings } from '../trace/cli.js';
import { searchTrace, type TraceQuery } from '../trace/search.js';
import { readSeries } from '../trace/stats.js';

/** Who the audit log names for an action taken on the status page (no per-user sign-in yet: the admin token or loopback). */
export const ADMIN_OPERATOR = 'admin:http';

const wrap = (fn: (req: Request, res: Response) => Promise<void>) => (req: Request, res: Response, next: NextFunction) => {
  fn(req, res).catch(next);
};

const text = (v: unknown): string | undefined => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

function sinceOf(v: unknown): number | undefined | Error {
  const s = text(v);
  if (s === undefined) return undefined;
  return DURATION.test(s) ? Date.now() - parseDuration(s) : new Error(`since: not a duration: ${s}`);
}

export function traceRoutes(app: express.Express, deps: { redis: RedisClient; keys: Keys; config: Config }): void {
  const { redis, keys, config } = deps;
  app.get(
    '/api/trace',
    wrap(async (req, res) => {
      const q = req.query;
      const id = text(q.id);
      const messageId = text(q.messageId);
      const sender = text(q.sender);
      const recipient = text(q.recipient);
      const query: TraceQuery | undefined =
        id !== undefined
          ? { id }
          : messageId !== undefined
            ? { messageId }
            : sender !== undefined
              ? { sender }
              : recipient !== undefined
                ? { recipient }
                : undefined;
      const since = sinceOf(q.since);
      if (query === undefined || since instanceof Error) {
        res.status(400).json({ error: since instanceof Error ? since.message : 'one of id, messageId, sender, recipient is required' });
        return;
      }
      res.json(await searchTrace(redis, keys, traceSettings(config), query, since));
    }),
  );
  app.get(
    '/api/audit',
    wrap(async (req, res) => {
      const since = sinceOf(req.query.since);
      if (since instanceof Error) {
        res.status(400).json({ error: since.message });
        return;
      }
      res.json((await readAudit(redis, keys, since)).slice(-200));
    }),
  );
  app.get(
    '/api/mailflow',
    wrap(async (_req, res) => {
      res.json((await lastMailflow(redis, keys)) ?? null);
    }),
  );
  app.get(
    '/api/charts',
    wrap(async (req, res) => {
      const day = req.query.range === 'day';
      res.json(await readSeries(redis, keys, day ? 1440 : 60, day ? 30 : 1));
    }),
  );
}
