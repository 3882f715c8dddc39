/** One line of the mail-flow report (SPEC §11): a path, what should hold, what was seen. */
export type Stage = 'static' | 'nexthop' | 'callout' | 'send';

export interface Check {
  readonly stage: Stage;
  /** What is checked, e.g. `inbound contoso.edu`, `connector cloud 10.0.0.5:25`, `rcpt ada@contoso.edu via cloud`. */
  readonly path: string;
  readonly expected: string;
  readonly observed: string;
  /** null: skipped (e.g. a path without a probe recipient), counted neither way. */
  readonly ok: boolean | null;
}

export const pass = (stage: Stage, path: string, expected: string, observed: string): Check => ({
  stage,
  path,
  expected,
  observed,
  ok: true,
});
export const fail = (stage: Stage, path: string, expected: string, observed: string): Check => ({
  stage,
  path,
  expected,
  observed,
  ok: false,
});
export const skip = (stage: Stage, path: string, expected: string, observed: string): Check => ({
  stage,
  path,
  expected,
  observed,
  ok: null,
});
export const verdict = (stage: Stage, path: string, expected: string, observed: string, ok: boolean): Check => ({
  stage,
  path,
  expected,
  observed,
  ok,
});
