import type { Call, ResponseSink } from '../call/call.js';
import type { Observer } from '../call/observer.js';
import type { Origin } from './origin.js';
import { RetryingCall, type RetryPolicy } from './retrying-call.js';
import type { Upstream } from '../cluster/cluster-upstream.js';

/** The default Origin: each call a RetryingCall over a route's Upstream, with the route's retry policy. */
export class RetryingOrigin implements Origin {
  constructor(
    private readonly upstream: Upstream,
    private readonly policy: RetryPolicy,
    private readonly observer: Observer,
  ) {}

  start(call: Call, sink: ResponseSink): void {
    new RetryingCall(this.upstream, this.policy, call, sink, this.observer).start();
  }
}
