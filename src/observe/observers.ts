import type { Observer } from '../call/observer.js';

/** An observer that cares about some of the events only. */
export type PartialObserver = Partial<Observer>;

const EVENTS: ReadonlyArray<keyof Observer> = [
  'callEnded',
  'backendCallStarted',
  'backendCallEnded',
  'flightLanded',
  'flightOverflowed',
  'slowCallerDropped',
  'messagesSkipped',
  'waitedTooLong',
  'retried',
  'sessionTransferred',
  'authFailed',
  'endpointEjected',
  'shed',
  'admissionWaited',
  'unsent',
  'retryRefused',
];

function nothing(): void {}

/**
 * One Observer that tells several: metrics always, the access log and tracing when they
 * are on. An event only one of them handles goes straight to it, so what is off costs
 * nothing.
 */
export function combineObservers(first: Observer, ...others: PartialObserver[]): Observer {
  if (others.length === 0) return first;
  const all: PartialObserver[] = [first, ...others];
  const combined: Record<string, (...args: never[]) => void> = {};
  for (const event of EVENTS) {
    const handlers = all.filter((o) => o[event] !== undefined).map((o) => (o[event] as (...args: unknown[]) => void).bind(o));
    if (handlers.length === 0) combined[event] = nothing;
    else if (handlers.length === 1) combined[event] = handlers[0]!;
    else {
      combined[event] = (...args: unknown[]) => {
        for (const handler of handlers) handler(...args);
      };
    }
  }
  return combined as unknown as Observer;
}
