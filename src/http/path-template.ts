/**
 * HTTP path templates as google.api.http defines them (google/api/http.proto):
 *
 *   Template = "/" Segments [ ":" Verb ]     Segment  = "*" | "**" | LITERAL | Variable
 *   Variable = "{" FieldPath [ "=" Segments ] "}"   ("{id}" is "{id=*}")
 *
 * "*" matches one segment, "**" any number (it must be last). A variable captures what its
 * segments matched, joined with "/". Segments are percent-decoded, except that "%2F" in a
 * multi-segment variable stays encoded (the spec's reserved expansion), so its slashes can
 * be told apart from a decoded one.
 */

type Unit = { kind: 'literal'; text: string; variable: number } | { kind: 'one' | 'many'; variable: number };

export class TemplateError extends Error {}

export interface PathMatch {
  /** Field path (e.g. "order.id") to its captured text. */
  readonly variables: ReadonlyMap<string, string>;
}

export class PathTemplate {
  private readonly units: Unit[] = [];
  /** Field paths of the variables, by index. */
  readonly variables: string[] = [];
  readonly verb: string | null;

  constructor(readonly source: string) {
    if (!source.startsWith('/')) throw new TemplateError(`path template '${source}' must start with /`);
    let body = source.slice(1);
    const verbAt = body.lastIndexOf(':');
    // A ':' after the last '}' and '/' is the verb.
    if (verbAt > body.lastIndexOf('}') && verbAt > body.lastIndexOf('/')) {
      this.verb = body.slice(verbAt + 1);
      body = body.slice(0, verbAt);
      if (this.verb === '') throw new TemplateError(`path template '${source}': empty verb after ':'`);
    } else {
      this.verb = null;
    }
    this.parseSegments(body, -1);
    const deep = this.units.findIndex((u) => u.kind === 'many');
    if (deep >= 0 && deep !== this.units.length - 1) throw new TemplateError(`path template '${source}': '**' must be the last segment`);
  }

  /**
   * Whether a path of `segments` segments (segmentCount) could match: the route table asks
   * this of every template, so most are passed over without splitting the path for each.
   */
  fits(segments: number): boolean {
    const last = this.units.at(-1);
    return last?.kind === 'many' ? segments >= this.units.length - 1 : segments === this.units.length;
  }

  /** The variables of `path` (no query string) when it matches; null when it does not. */
  match(path: string): PathMatch | null {
    if (!path.startsWith('/')) return null;
    let rest = path.slice(1);
    if (this.verb !== null) {
      const suffix = `:${this.verb}`;
      if (!rest.endsWith(suffix)) return null;
      rest = rest.slice(0, -suffix.length);
    }
    const segments = rest === '' ? [] : rest.split('/');
    const captured: string[][] = this.variables.map(() => []);
    let i = 0;
    for (const unit of this.units) {
      if (unit.kind === 'many') {
        const taken = segments.slice(i);
        if (unit.variable >= 0) captured[unit.variable]!.push(...taken.map((s) => decode(s, true)));
        i = segments.length;
        break;
      }
      const segment = segments[i];
      if (segment === undefined) return null;
      if (unit.kind === 'literal' && decode(segment, false) !== unit.text) return null;
      if (unit.variable >= 0) captured[unit.variable]!.push(decode(segment, true));
      i++;
    }
    if (i !== segments.length) return null;
    const variables = new Map<string, string>();
    this.variables.forEach((name, v) => {
      const parts = captured[v]!;
      // A single-segment variable is fully decoded, slashes included.
      variables.set(name, parts.length === 1 ? decodeURIComponentSafe(parts[0]!.replace(/%2F/gi, '/')) : parts.join('/'));
    });
    return { variables };
  }

  /** How specific the template is, to order templates that could match the same path: literals first. */
  get specificity(): number[] {
    return this.units.map((u) => (u.kind === 'literal' ? 3 : u.kind === 'one' ? 2 : 1));
  }

  private parseSegments(text: string, variable: number): void {
    if (text === '') throw new TemplateError(`path template '${this.source}': empty segment`);
    let at = 0;
    while (at <= text.length) {
      if (text[at] === '{') {
        if (variable >= 0) throw new TemplateError(`path template '${this.source}': variables cannot nest`);
        const close = text.indexOf('}', at);
        if (close < 0) throw new TemplateError(`path template '${this.source}': '{' without '}'`);
        const inner = text.slice(at + 1, close);
        const eq = inner.indexOf('=');
        const field = eq < 0 ? inner : inner.slice(0, eq);
        if (!/^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$/.test(field)) {
          throw new TemplateError(`path template '${this.source}': '${field}' is not a field path`);
        }
        if (this.variables.includes(field)) throw new TemplateError(`path template '${this.source}': '${field}' appears twice`);
        this.variables.push(field);
        this.parseSegments(eq < 0 ? '*' : inner.slice(eq + 1), this.variables.length - 1);
        at = close + 1;
      } else {
        const slash = text.indexOf('/', at);
        const end = slash < 0 ? text.length : slash;
        const segment = text.slice(at, end);
        if (segment === '') throw new TemplateError(`path template '${this.source}': empty segment`);
        if (segment === '*') this.units.push({ kind: 'one', variable });
        else if (segment === '**') this.units.push({ kind: 'many', variable });
        else if (/[{}*]/.test(segment)) throw new TemplateError(`path template '${this.source}': bad segment '${segment}'`);
        else this.units.push({ kind: 'literal', text: segment, variable });
        at = end;
      }
      if (at >= text.length) return;
      if (text[at] !== '/') throw new TemplateError(`path template '${this.source}': expected '/' after a segment`);
      at++;
    }
  }
}

/** The segments of a path as PathTemplate.match splits it: "/" has none, "/a/" has two. */
export function segmentCount(path: string): number {
  if (path.length <= 1) return 0;
  let count = 0;
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) count++;
  return count;
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A segment percent-decoded; with `keepSlash`, "%2F" stays as it is (reserved expansion). */
function decode(segment: string, keepSlash: boolean): string {
  if (!segment.includes('%')) return segment;
  if (!keepSlash) return decodeURIComponentSafe(segment);
  return segment
    .split(/%2F/i)
    .map((part) => decodeURIComponentSafe(part))
    .join('%2F');
}
