import type { DeclaredReads } from '../collapse/declared-reads.js';
import { resolvePath } from '../collapse/key-canon.js';
import type { Config } from '../config/config.js';

/** What decides collapsing in a configuration, as start-up, validate and /config_dump say it. */
export interface CollapsingSummary {
  /** COLLAPSER_METHODS as written; null when unset. */
  listed: string[] | null;
  /** COLLAPSER_SKIP_METHODS as written; null when unset. */
  skipped: string[] | null;
  /** Routes whose every call is collapsed (collapse: true) and routes that never collapse (collapse: false), by name or prefix. */
  routes: { collapseAll: string[]; never: string[] };
  /** Whether the backends are asked for their declarations (COLLAPSER_REFLECTION). */
  reflection: boolean;
  /** Methods the descriptors (files and reflection) declare NO_SIDE_EFFECTS, and the described ones passed through. */
  declared: { reads: string[]; passedThrough: string[] } | null;
  /** Every other call. */
  otherwise: 'passed through' | 'collapsed (COLLAPSER_METHODS=*)';
}

export function collapsingSummary(config: Config, declared: DeclaredReads | null): CollapsingSummary {
  const { onlyMethods, skipMethods, reflection } = config.collapser;
  const named = (r: Config['topology']['routes'][number]) => r.name ?? r.prefix;
  return {
    listed: onlyMethods ?? null,
    skipped: skipMethods ?? null,
    routes: {
      collapseAll: config.topology.routes.filter((r) => r.collapse === true).map(named),
      never: config.topology.routes.filter((r) => r.collapse === false).map(named),
    },
    reflection,
    declared: declared === null ? null : declared.methods,
    otherwise: onlyMethods?.includes('*') ? 'collapsed (COLLAPSER_METHODS=*)' : 'passed through',
  };
}

/** How to turn collapsing on, for a configuration where nothing says any method is a read. */
export const HOW_TO_COLLAPSE =
  'declare reads in the service\'s .proto (option idempotency_level = NO_SIDE_EFFECTS) and serve gRPC server reflection, or list them: COLLAPSER_METHODS=/pkg.Service/Get,/pkg.Reads/';

/** True when nothing in the configuration can make a call collapse (server reflection off, no list, no route, no declared read). */
export function collapsesNothing(s: CollapsingSummary): boolean {
  return !s.reflection && s.listed === null && s.routes.collapseAll.length === 0 && (s.declared === null || s.declared.reads.length === 0);
}

/**
 * What is collapsed whatever the backends declare (COLLAPSER_METHODS, routes with collapse:
 * true), for what reflection logs about a backend that declares nothing; null: nothing is.
 */
export function collapsedBesidesReflection(s: CollapsingSummary): string | null {
  if (s.listed?.includes('*')) return 'every method is collapsed (COLLAPSER_METHODS=*)';
  const parts: string[] = [];
  if (s.listed !== null) parts.push(`${s.listed.join(',')} (COLLAPSER_METHODS)`);
  if (s.routes.collapseAll.length > 0) parts.push(`every call of route ${s.routes.collapseAll.join(', ')} (collapse: true)`);
  return parts.length === 0 ? null : `collapsing only ${parts.join('; ')}`;
}

/** One line: what is collapsed and why. */
export function collapsingLine(s: CollapsingSummary): string {
  if (collapsesNothing(s)) return `collapsing nothing: every call passes through; to collapse, ${HOW_TO_COLLAPSE}`;
  const parts: string[] = [];
  if (s.listed?.includes('*')) return `collapsing every method (COLLAPSER_METHODS=*)${exceptions(s)}`;
  if (s.listed !== null) parts.push(`${s.listed.join(',')} (COLLAPSER_METHODS)`);
  if (s.routes.collapseAll.length > 0) parts.push(`every call of route ${s.routes.collapseAll.join(', ')} (collapse: true)`);
  if (s.declared !== null && s.declared.reads.length > 0) parts.push(`${s.declared.reads.join(',')} (declared NO_SIDE_EFFECTS)`);
  if (s.reflection) parts.push('the methods the backends declare NO_SIDE_EFFECTS over server reflection');
  return `collapsing ${parts.join('; ')}; everything else is passed through${exceptions(s)}`;
}

function exceptions(s: CollapsingSummary): string {
  let text = '';
  if (s.skipped !== null) text += `; never ${s.skipped.join(',')} (COLLAPSER_SKIP_METHODS)`;
  if (s.routes.never.length > 0) text += `; nothing on route ${s.routes.never.join(', ')} (collapse: false)`;
  return text;
}

/** The full method names of COLLAPSER_METHODS and COLLAPSER_SKIP_METHODS the descriptors take for typos (see DeclaredReads.misspelled). */
export function misspelledMethods(config: Config, declared: DeclaredReads | null): string[] {
  if (declared === null) return [];
  const exact = (entries: string[] | undefined) => (entries ?? []).filter((e) => !e.endsWith('/') && e !== '*');
  return [
    ...declared.misspelled('COLLAPSER_METHODS', exact(config.collapser.onlyMethods)),
    ...declared.misspelled('COLLAPSER_SKIP_METHODS', exact(config.collapser.skipMethods)),
  ];
}

/**
 * What is wrong with COLLAPSER_KEY_IGNORE_FIELDS (and routes' key_ignore_fields) as the
 * descriptors see it: a path whose first field a described request has but whose rest is
 * not a field of it (an error: a typo would silently key on the field), and a path no
 * described request has at all (a warning: it may be for a backend not described yet).
 */
export function ignoredFieldProblems(paths: readonly string[], declared: DeclaredReads | null): { invalid: string[]; unused: string[] } {
  const invalid = new Set<string>();
  const unused: string[] = [];
  if (declared === null || declared.counts.described === 0) return { invalid: [], unused: [] };
  for (const path of new Set(paths)) {
    let used = false;
    for (const [method, input] of declared.inputTypes()) {
      const resolved = resolvePath(input, path);
      if (resolved === 'invalid') invalid.add(`${path} is not a field of ${input.typeName} (the request of ${method})`);
      else if (resolved !== 'absent') used = true;
    }
    if (!used && ![...invalid].some((p) => p.startsWith(`${path} `))) unused.push(path);
  }
  return { invalid: [...invalid], unused };
}

/** COLLAPSER_KEY_IGNORE_FIELDS and every route's key_ignore_fields. */
export function ignoredFieldPaths(listed: readonly string[], routes: ReadonlyArray<{ keyIgnoreFields?: string[] | undefined }>): string[] {
  return [...listed, ...routes.flatMap((r) => r.keyIgnoreFields ?? [])];
}

/** What start-up and validate say of the ignored fields: an error (a path that is no field), and a warning (one no request has). */
export function ignoredFieldsCheck(config: Config, declared: DeclaredReads | null): { error: string | null; warning: string | null } {
  const { invalid, unused } = ignoredFieldProblems(ignoredFieldPaths(config.collapser.keyIgnoreFields, config.topology.routes), declared);
  return {
    error: invalid.length === 0 ? null : `invalid configuration: key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: ${invalid.join('; ')}`,
    warning: unused.length === 0 ? null : `key_ignore_fields / COLLAPSER_KEY_IGNORE_FIELDS: no described request has ${unused.join(', ')}`,
  };
}
