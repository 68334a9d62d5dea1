import type { Endpoint } from '../discovery/endpoint.js';
import type { Picker } from './picker.js';

/** Each endpoint in turn. Starts at a random place so many corrals do not all begin with the first. */
export class RoundRobinPicker implements Picker {
  private next: number;

  constructor(private readonly endpoints: readonly Endpoint[]) {
    this.next = Math.floor(Math.random() * endpoints.length);
  }

  pick(): Endpoint {
    const endpoint = this.endpoints[this.next]!;
    this.next = (this.next + 1) % this.endpoints.length;
    return endpoint;
  }
}
