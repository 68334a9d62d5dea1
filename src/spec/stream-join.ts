import { METHOD_ENTRY } from './method-list.js';

/**
 * How a caller joins a collapsed server stream already under way:
 * - replay: it gets the response from its start (recorded up to COLLAPSER_MAX_RESPONSE_BYTES),
 *   right for a short answer;
 * - latest: it gets the headers and the latest message, then every message after it (a
 *   state stream: each message is the whole state); a watcher that falls behind skips to
 *   the latest message;
 * - live: it gets the headers and every message after it joined, none before (an event
 *   stream); a watcher that falls too far behind is ended, since it cannot skip events.
 */
export type StreamJoin = 'replay' | 'latest' | 'live';
export const STREAM_JOINS: readonly StreamJoin[] = ['replay', 'latest', 'live'];


/**
 * COLLAPSER_STREAM_JOIN: `/pkg.S/Watch=latest,/pkg.Events/=live`. Returns the entries in
 * order, or the message that says what is wrong.
 */
export function parseStreamJoins(text: string): Array<[string, StreamJoin]> | string {
  const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
  const out: Array<[string, StreamJoin]> = [];
  const bad: string[] = [];
  for (const entry of entries) {
    const at = entry.indexOf('=');
    const [method, join] = [entry.slice(0, at), entry.slice(at + 1) as StreamJoin];
    if (at < 0 || !METHOD_ENTRY.test(method) || !STREAM_JOINS.includes(join)) bad.push(`'${entry}'`);
    else out.push([method, join]);
  }
  if (bad.length > 0) {
    return `${bad.join(', ')}: expected method=join, comma-separated, where method is /pkg.Service/Method or a service prefix /pkg.Service/ and join is replay, latest or live`;
  }
  return out;
}

/** The join a method gets from a parsed list: an exact name first, then the longest prefix; replay otherwise. */
export function streamJoinOf(entries: ReadonlyArray<readonly [string, StreamJoin]>, method: string): StreamJoin {
  let best: StreamJoin = 'replay';
  let bestLength = -1;
  for (const [name, join] of entries) {
    if (name === method) return join;
    if (name.endsWith('/') && method.startsWith(name) && name.length > bestLength) {
      best = join;
      bestLength = name.length;
    }
  }
  return best;
}
