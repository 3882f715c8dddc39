/** `switchyard config init`: writes the annotated example configuration (refuses to overwrite without --force). */
import { writeFileSync } from 'node:fs';
import { CONFIG_TEMPLATE } from './config-template.js';
import { UsageError } from './usage-error.js';

export function configInitCommand(flags: { out: string; force?: boolean }): number {
  try {
    writeFileSync(flags.out, CONFIG_TEMPLATE, { flag: flags.force ? 'w' : 'wx', mode: 0o640 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new UsageError(`${flags.out} exists; use --force to overwrite it`);
    throw err;
  }
  process.stdout.write(`wrote ${flags.out}; edit it, then: switchyard config check --config ${flags.out}\n`);
  return 0;
}
