import { describe, expect, it } from 'vitest';
import { PathTemplate, TemplateError } from '../../src/http/path-template.js';

const vars = (t: string, path: string) => {
  const m = new PathTemplate(t).match(path);
  return m === null ? null : Object.fromEntries(m.variables);
};

describe('PathTemplate (google.api.http)', () => {
  it('matches literals and single-segment variables, decoding them', () => {
    expect(vars('/api/v1/orders/{id}', '/api/v1/orders/123')).toEqual({ id: '123' });
    expect(vars('/api/v1/orders/{id}', '/api/v1/orders/a%20b%2Fc')).toEqual({ id: 'a b/c' });
    expect(vars('/api/v1/orders/{id}', '/api/v1/orders')).toBeNull();
    expect(vars('/api/v1/orders/{id}', '/api/v1/orders/1/2')).toBeNull();
    expect(vars('/api/v1/orders/{id}', '/api/v2/orders/1')).toBeNull();
  });

  it('captures multi-segment variables with their slashes, and nested field paths', () => {
    expect(vars('/v1/{name=shelves/*}/books', '/v1/shelves/7/books')).toEqual({ name: 'shelves/7' });
    expect(vars('/v1/{name=shelves/*}/books', '/v1/racks/7/books')).toBeNull();
    expect(vars('/v1/{book.name=shelves/*/books/*}', '/v1/shelves/1/books/2')).toEqual({ 'book.name': 'shelves/1/books/2' });
    expect(vars('/v1/{name=shelves/*}', '/v1/shelves/a%2Fb')).toEqual({ name: 'shelves/a%2Fb' });
  });

  it("takes any number of segments with '**' at the end", () => {
    expect(vars('/files/{path=**}', '/files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(vars('/files/{path=**}', '/files')).toEqual({ path: '' });
    expect(vars('/static/**', '/static/x/y')).toEqual({});
  });

  it('matches a custom verb after the last segment', () => {
    expect(vars('/v1/orders/{id}:cancel', '/v1/orders/9:cancel')).toEqual({ id: '9' });
    expect(vars('/v1/orders/{id}:cancel', '/v1/orders/9')).toBeNull();
    expect(vars('/v1/orders/{id}', '/v1/orders/9:cancel')).toEqual({ id: '9:cancel' });
  });

  it('refuses templates the grammar does not allow, saying why', () => {
    for (const [t, why] of [
      ['api/x', /must start with \//],
      ['/a/**/b', /'\*\*' must be the last segment/],
      ['/a/{id', /without '}'/],
      ['/a/{1x}', /not a field path/],
      ['/a/{id}/{id}', /appears twice/],
      ['/a//b', /empty segment/],
      ['/a/{x={y}}', /cannot nest/],
    ] as const) {
      expect(() => new PathTemplate(t), t).toThrowError(TemplateError);
      expect(() => new PathTemplate(t), t).toThrowError(why);
    }
  });

  it('ranks literals above variables above deep wildcards', () => {
    const ranked = ['/v1/{id}', '/v1/orders', '/v1/**'].map((t) => new PathTemplate(t)).sort((a, b) => {
      const x = a.specificity, y = b.specificity;
      for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (y[i] ?? 0) - (x[i] ?? 0);
      return 0;
    });
    expect(ranked.map((t) => t.source)).toEqual(['/v1/orders', '/v1/{id}', '/v1/**']);
  });
});
