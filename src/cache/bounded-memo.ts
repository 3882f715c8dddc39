/**
 * A pure function of a string with its answers kept: for a per-message or per-RCPT helper
 * whose set-up costs more than a Map lookup and that sees the same few keys over and over
 * (a relay's clients, its recipients). At most `max` answers are kept; past that the cache
 * starts again, which bounds its memory without bookkeeping per entry.
 */
export function boundedMemo<T>(fn: (key: string) => T, max: number): (key: string) => T {
  const answers = new Map<string, T>();
  return (key) => {
    if (answers.has(key)) return answers.get(key) as T;
    if (answers.size >= max) answers.clear();
    const answer = fn(key);
    answers.set(key, answer);
    return answer;
  };
}
