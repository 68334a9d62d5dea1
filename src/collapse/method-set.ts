import { EVERY_METHOD } from '../spec/method-list.js';

/**
 * A set of gRPC methods as an operator writes it: full method names
 * (`/shop.Cart/AddItem`), service prefixes ending in `/` (`/shop.Cart/`), or `*` for every
 * method.
 */
export class MethodSet {
  private readonly exact: ReadonlySet<string>;
  private readonly prefixes: readonly string[];
  readonly all: boolean;

  constructor(readonly entries: readonly string[]) {
    this.all = entries.includes(EVERY_METHOD);
    this.exact = new Set(entries.filter((e) => !e.endsWith('/') && e !== EVERY_METHOD));
    this.prefixes = entries.filter((e) => e.endsWith('/'));
  }

  has(method: string): boolean {
    return this.all || this.exact.has(method) || underAny(method, this.prefixes);
  }

  /** The full method names listed (not the prefixes nor `*`). */
  get methods(): ReadonlySet<string> {
    return this.exact;
  }
}



/** True when `method` starts with one of `prefixes` (a route's `invalidates`). */
export function underAny(method: string, prefixes: readonly string[]): boolean {
  for (const prefix of prefixes) if (method.startsWith(prefix)) return true;
  return false;
}
