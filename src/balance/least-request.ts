import type { Endpoint } from '../discovery/endpoint.js';
import type { Picker } from './picker.js';

/**
 * Least request by the power of two choices (as Envoy's LEAST_REQUEST): two endpoints
 * at random, the one with fewer calls open wins. Near-best balance at O(1) per call,
 * and no herd onto the single least-loaded endpoint.
 */
export class LeastRequestPicker implements Picker {
  constructor(
    private readonly endpoints: readonly Endpoint[],
    private readonly load: (endpoint: Endpoint) => number,
  ) {}

  pick(): Endpoint {
    const n = this.endpoints.length;
    const i = Math.floor(Math.random() * n);
    const a = this.endpoints[i]!;
    if (n === 1) return a;
    // A second, distinct endpoint: draw from the other n - 1.
    const j = Math.floor(Math.random() * (n - 1));
    const b = this.endpoints[j >= i ? j + 1 : j]!;
    return this.load(b) < this.load(a) ? b : a;
  }
}
