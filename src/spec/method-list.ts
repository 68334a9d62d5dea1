/** The entry that stands for every method: COLLAPSER_METHODS=* says the backend serves only reads. */
export const EVERY_METHOD = '*';

/** A full method name or a service prefix: /pkg.Service/Method or /pkg.Service/. */
export const METHOD_ENTRY = /^\/[^/\s,]+\/[^/\s,]*$/;

/**
 * Parses a comma-separated list; returns the entries, or the message that says what is wrong.
 */
export function parseMethodList(text: string): string[] | string {
  const entries = text
    .split(',')
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const bad = entries.filter((e) => !METHOD_ENTRY.test(e) && e !== EVERY_METHOD);
  if (bad.length > 0) {
    return `${bad.map((b) => `'${b}'`).join(', ')}: expected full method names (/pkg.Service/Method) or service prefixes ending in / (/pkg.Service/), comma-separated, or * for every method`;
  }
  return entries;
}
