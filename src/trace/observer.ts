/** The relay's observer with message trace added: metrics (or nothing) plus the trace writer. */
import { noObserver, type Observer } from '../log/observer.js';
import type { TraceWriter } from './writer.js';

export function withTrace(observer: Observer | undefined, writer: TraceWriter | undefined): Observer {
  const base = observer ?? noObserver;
  if (writer === undefined) return base;
  return {
    decision: (reason, action, seconds) => base.decision(reason, action, seconds),
    accepted: () => base.accepted(),
    delivery: (outcome, hop) => base.delivery(outcome, hop),
    budgetRefused: () => base.budgetRefused(),
    trace: (event) => {
      base.trace?.(event);
      writer.trace(event);
    },
  };
}
