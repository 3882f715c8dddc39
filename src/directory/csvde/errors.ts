/** A Csvde file that cannot be read past a point (bad header, unclosed quote): nothing is published. */
export class CsvdeFileError extends Error {
  readonly code = 'SY_CSVDE_FILE';
  constructor(
    readonly origin: string,
    readonly reason: string,
  ) {
    super(`${origin}: ${reason}`);
  }
}
