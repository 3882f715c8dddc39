/**
 * Values quoted in error reasons, made printable: control characters (CR, LF, tab, NUL …)
 * escaped so a reason prints whole on one line and a CR cannot hide the text before it. Pure.
 */
const NAMED: Record<string, string> = { '\r': '\\r', '\n': '\\n', '\t': '\\t', '\0': '\\0' };

// eslint-disable-next-line no-control-regex -- matching control characters is the point
const CONTROL = /[\u0000-\u001f\u007f\u0080-\u009f\u2028\u2029]/g;

export function printable(value: string): string {
  return value.replace(CONTROL, (c) => NAMED[c] ?? `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A value in double quotes, printable. */
export function quoted(value: string): string {
  return `"${printable(value)}"`;
}
