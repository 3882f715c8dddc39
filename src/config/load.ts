/**
 * Loads the configuration: YAML file, then environment overrides (REDIS_URL), validated
 * with precise messages naming the key, and returned frozen.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { ConfigError, formatPath } from './errors.js';

export { defaultConfigPath } from './path.js';
import { checkFiles, checkReferences } from './references.js';
import { checkSecrets } from './secrets.js';
import { configSchema, type Config } from './schema.js';

/** Keys that would hold a secret inline; the file may only name where the secret is. */
const INLINE_SECRET = /^(?:password|bindPassword|secret|token)$/i;

function findInlineSecrets(value: unknown, path: PropertyKey[] = []): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => findInlineSecrets(v, [...path, i]));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) =>
    INLINE_SECRET.test(k)
      ? [`${formatPath([...path, k])}: secrets are not allowed in the config file; use ${k}Env or ${k}File`]
      : findInlineSecrets(v, [...path, k]),
  );
}

/** Freezes a value and everything it holds (a configuration crosses threads as a plain clone: frozen again there). */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** Validates an already-parsed document. `file` is only used in messages. */
export function parseConfig(raw: unknown, file: string, env: NodeJS.ProcessEnv = process.env): Config {
  const secrets = findInlineSecrets(raw);
  const result = configSchema.safeParse(raw ?? {});
  if (!result.success || secrets.length > 0) {
    const problems = (result.error?.issues ?? []).flatMap((issue) => {
      if (issue.code !== 'unrecognized_keys') return [`${formatPath(issue.path)}: ${issue.message}`];
      const unknown = issue.keys.filter((k) => !INLINE_SECRET.test(k)); // already reported as secrets
      return unknown.length === 0
        ? []
        : [`${formatPath(issue.path)}: unknown key${unknown.length > 1 ? 's' : ''} ${unknown.map((k) => `"${k}"`).join(', ')}`];
    });
    throw new ConfigError(file, [...secrets, ...problems]);
  }
  const config = result.data;
  const problems = [...checkReferences(config), ...checkSecrets(config, env)];
  if (problems.length > 0) throw new ConfigError(file, problems);
  if (env.REDIS_URL !== undefined && env.REDIS_URL !== '') {
    const { sentinel: _sentinel, cluster: _cluster, ...single } = config.redis; // REDIS_URL names one server
    config.redis = { ...single, url: env.REDIS_URL };
  }
  return deepFreeze(config);
}

export function loadConfig(file: string, env: NodeJS.ProcessEnv = process.env): Config {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read: ${(err as NodeJS.ErrnoException).code ?? String(err)}`]);
  }
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => `YAML ${e.linePos?.[0] ? `line ${e.linePos[0].line}: ` : ''}${e.message.split('\n')[0]}`),
    );
  }
  const config = parseConfig(doc.toJS(), file, env);
  const missing = checkFiles(config);
  if (missing.length > 0) throw new ConfigError(file, missing);
  return config;
}

/** The effective configuration with secret references shown but no secret values. */
export function redactConfig(config: Config): unknown {
  return JSON.parse(
    JSON.stringify(config, (key, value: unknown) =>
      key === 'url' && typeof value === 'string' ? value.replace(/\/\/([^@/]*)@/, '//***@') : value,
    ),
  );
}
