/**
 * A failure of the Csvde parsing thread crosses to the reader as a PostedError and is rebuilt
 * there by its `code`: the class a bundler may rename (esbuild renames clashing classes, e.g.
 * `CsvdeFileError2`) is not what the reader goes by.
 */
import { expect, it } from 'vitest';
import { revive } from '../../src/directory/csvde/parse-thread.js';
import { CsvdeFileError } from '../../src/directory/csvde/errors.js';
import { postedError } from '../../src/directory/thread/protocol.js';

it('rebuilds a CsvdeFileError from its code, whatever its class is called', () => {
  const posted = postedError(new CsvdeFileError('big.csv:7', 'unclosed quote'));
  expect(posted.fields).toMatchObject({ code: 'SY_CSVDE_FILE', origin: 'big.csv:7', reason: 'unclosed quote' });
  for (const kind of [posted.kind, 'CsvdeFileError2', 'e']) {
    const err = revive({ ...posted, kind });
    expect(err).toBeInstanceOf(CsvdeFileError);
    expect(err.message).toBe('big.csv:7: unclosed quote');
    expect(err).toMatchObject({ code: 'SY_CSVDE_FILE', origin: 'big.csv:7', reason: 'unclosed quote' });
  }
});

it('gives any other failure as a plain Error with its message and fields', () => {
  const err = revive(postedError(Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', errno: -13 })));
  expect(err).not.toBeInstanceOf(CsvdeFileError);
  expect(err.message).toBe('EACCES: permission denied');
  expect(err).toMatchObject({ code: 'EACCES', errno: -13 });
});
