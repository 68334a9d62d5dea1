/** What is shown in place of a secret. */
export const REDACTED = '[redacted]';

/** Query parameters whose values are taken for secrets (api_key, access_token, X-Amz-Signature, ...). */
const SECRET_PARAMETER = /key|token|secret|passw|pwd|sig|auth|credential|session/i;
const URL_IN_TEXT = /\bhttps?:\/\/[^\s'"<>]+/g;

/**
 * A URL as it may be shown (in /config_dump, /clusters, logs): its user information and
 * the values of secret-looking query parameters redacted. Text that is not a URL is
 * returned as it is.
 */
export function redactedUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return text;
  }
  let changed = false;
  if (url.username !== '' || url.password !== '') {
    url.username = REDACTED;
    url.password = '';
    changed = true;
  }
  for (const name of [...url.searchParams.keys()]) {
    if (!SECRET_PARAMETER.test(name)) continue;
    url.searchParams.set(name, REDACTED);
    changed = true;
  }
  if (!changed) return text;
  // '[redacted]' as written, not percent-encoded.
  return url.href.replaceAll('%5Bredacted%5D', REDACTED);
}

/** Every http(s) URL inside a text (an error message, say) redacted as redactedUrl does. */
export function redactedUrlsIn(text: string): string {
  return text.includes('://') ? text.replace(URL_IN_TEXT, redactedUrl) : text;
}

/** A JSON-like value with every URL in its strings redacted: for a view of the configuration. */
export function redactedUrlsOf<T>(value: T): T {
  if (typeof value === 'string') return redactedUrlsIn(value) as T;
  if (Array.isArray(value)) return value.map(redactedUrlsOf) as T;
  const proto = value !== null && typeof value === 'object' ? Object.getPrototypeOf(value) : undefined;
  if (proto === Object.prototype || proto === null) {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value as object)) out[k] = redactedUrlsOf(v);
    return out as T;
  }
  return value;
}
