/**
 * zod as the configuration schema uses it (schema.ts), set up before any schema is built.
 * Imported as a namespace (`import * as z`), never as zod's `{ z }`: the bundle then leaves
 * out what the schema does not use (zod's locales, z.compile, fromJSONSchema): 267 KB instead
 * of 638 KB to compile at every start.
 * Jitless: the configuration is parsed at start and on a reload, and zod's generated fast paths
 * (a `new Function` per object schema) cost more to build than they save on so few documents.
 * Process-wide: any other zod schema in this process would be jitless too (none is; give a
 * hot-path schema its own thought first).
 */
import { config } from 'zod';

config({ jitless: true });

export * from 'zod';
