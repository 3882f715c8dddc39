/**
 * One real redis-server for the whole test run, on a free loopback port in a temp dir.
 * Tests isolate themselves with a random namespace (see ./namespace.ts). If Redis cannot
 * start, the run fails here: integration tests never skip.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { startRedis, type EmbeddedRedis } from '../../src/main/embedded-redis.js';

let redis: EmbeddedRedis | undefined;
let dir: string | undefined;

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

export async function setup(project: TestProject): Promise<void> {
  dir = mkdtempSync(join(tmpdir(), 'switchyard-test-redis-'));
  redis = await startRedis({ dir });
  project.provide('redisUrl', redis.url);
}

export async function teardown(): Promise<void> {
  await redis?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}
