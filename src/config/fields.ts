/**
 * The field validators the configuration schema (schema.ts) is built from: addresses,
 * domains, cron expressions, durations, sizes and secret references.
 */
import { DURATION } from './duration.js';
import * as z from './zod.js';

const HOST_PORT = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?$/;
const DOMAIN =
  /^(?:\*\.)?(?:[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\-\u0080-\uffff]*[A-Za-z0-9\u0080-\uffff])?\.)*[A-Za-z0-9\u0080-\uffff](?:[A-Za-z0-9\-\u0080-\uffff]*[A-Za-z0-9\u0080-\uffff])?$/;
const CIDR = /^(?:(?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*)(?:\/\d{1,3})?$/;
const CRON = /^\s*\S+(?:\s+\S+){4,5}\s*$/;

export const hostPort = z
  .string()
  .regex(HOST_PORT, 'not host:port')
  .refine((s) => Number(/:(\d{1,5})$/.exec(s)?.[1] ?? 0) <= 65_535, 'port out of range (0-65535)');
export const domainName = z.string().regex(DOMAIN, 'not a domain name (or *.domain)');
export const cron = z.string().regex(CRON, 'not a cron expression (5 or 6 fields)');
export const duration = z.string().regex(DURATION, 'a duration like 250ms, 30s, 5m, 4h, 5d');

const SIZE_UNITS: Record<string, number> = { '': 1, B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3, TB: 1024 ** 4 };

/** A number of bytes, or a size such as 512MB or 2GB (binary units). */
export const byteSize = z.union([
  z.number().int().min(0),
  z
    .string()
    .regex(/^\s*\d+(\.\d+)?\s*([KMGT]?B)?\s*$/i, 'a number of bytes or a size such as 512MB or 2GB')
    .transform((v) => {
      const m = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?B)?\s*$/i.exec(v);
      return Math.floor(Number(m?.[1] ?? 0) * (SIZE_UNITS[(m?.[2] ?? '').toUpperCase()] ?? 1));
    }),
]);

/** A secret given by environment variable name or file path, never inline. */
export const secretRef = {
  passwordEnv: z.string().min(1).optional(),
  passwordFile: z.string().min(1).optional(),
};

/** An IP address or a CIDR block. */
export const cidr = z.string().regex(CIDR, 'not an IP address or CIDR block');
