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

/** The entry that stands for every method: COLLAPSER_METHODS=* says the backend serves only reads. */
export const EVERY_METHOD = '*';

/** True when `method` starts with one of `prefixes` (a route's `invalidates`). */
export function underAny(method: string, prefixes: readonly string[]): boolean {
  for (const prefix of prefixes) if (method.startsWith(prefix)) return true;
  return false;
}

/** A full method name or a service prefix: /pkg.Service/Method or /pkg.Service/. */
const ENTRY = /^\/[^/\s,]+\/[^/\s,]*$/;

/**
 * Parses a comma-separated list; returns the entries, or the message that says what is wrong.
 */
export function parseMethodList(text: string): string[] | string {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const bad = entries.filter((e) => !ENTRY.test(e) && e !== EVERY_METHOD);
  if (bad.length > 0) {
    return `${bad.map((b) => `'${b}'`).join(', ')}: expected full method names (/pkg.Service/Method) or service prefixes ending in / (/pkg.Service/), comma-separated, or * for every method`;
  }
  return entries;
}
