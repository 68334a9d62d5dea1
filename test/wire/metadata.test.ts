import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { headerListSize, metadataProblem, requestHeaders, restoreRepeatedFields } from '../../src/wire/metadata.js';
import { Status } from '../../src/wire/status.js';

describe('restoreRepeatedFields', () => {
  it('turns values node joined back into the separate values, in order', () => {
    const headers = { ':path': '/a/b', 'x-rep-bin': 'AAE, AgME', cookie: 'a=1; b=2', 'x-one': 'a, b' };
    const raw = [':path', '/a/b', 'x-rep-bin', 'AAE', 'x-one', 'a, b', 'cookie', 'a=1', 'x-rep-bin', 'AgME', 'cookie', 'b=2'];
    expect(restoreRepeatedFields(headers, raw)).toEqual({
      ':path': '/a/b',
      'x-rep-bin': ['AAE', 'AgME'],
      cookie: ['a=1', 'b=2'],
      'x-one': 'a, b',
    });
  });

  it('recovers the values node dropped of a name it keeps once', () => {
    const headers = { authorization: 'first' };
    expect(restoreRepeatedFields(headers, ['authorization', 'first', 'authorization', 'second'])).toEqual({
      authorization: ['first', 'second'],
    });
  });

  it('leaves headers alone without a field list', () => {
    const headers = { 'x-a': 'a, b' };
    expect(restoreRepeatedFields(headers, undefined)).toBe(headers);
    expect(headers).toEqual({ 'x-a': 'a, b' });
  });
});

describe('metadataProblem', () => {
  it('accepts base64 padded or not, empty, and any ASCII value', () => {
    expect(metadataProblem({ 'a-bin': 'AAE=', 'b-bin': 'AAE', 'c-bin': '', 'd-bin': ['AQ==', 'AgME'], 'x-a': ' padded, or not ' })).toBeNull();
  });

  it.each([['AAE, AgME'], ['AAE,AgME'], ['!!!'], ['A'], ['AAE=A'], ['AA-_'], ['YR=='], ['YR'], ['YWJ='], ['YWJ'], ['AAF=']])('refuses -bin value %j as INTERNAL', (value) => {
    const problem = metadataProblem({ 'x-bin': value });
    expect(problem?.code).toBe(Status.INTERNAL);
    expect(problem?.message).toContain("malformed binary metadata 'x-bin'");
  });

  it('accepts exactly the base64 an encoder writes, padded or not: what decodes and encodes back to itself', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 40 }), (bytes) => {
        const padded = Buffer.from(bytes).toString('base64');
        expect(metadataProblem({ 'x-bin': padded })).toBeNull();
        expect(metadataProblem({ 'x-bin': padded.replace(/=+$/, '') })).toBeNull();
      }),
    );
    fc.assert(
      fc.property(fc.stringMatching(/^[A-Za-z0-9+/]{0,12}={0,2}$/), (text) => {
        const canonical = Buffer.from(text, 'base64').toString('base64');
        const roundTrips = text === canonical || text === canonical.replace(/=+$/, '');
        expect(metadataProblem({ 'x-bin': text }) === null).toBe(roundTrips);
      }),
    );
  });

  it('refuses a bad value among repeated -bin values, and a repeated single-value name', () => {
    expect(metadataProblem({ 'x-bin': ['AAE', 'A'] })?.code).toBe(Status.INTERNAL);
    expect(metadataProblem({ authorization: ['a', 'b'] })?.message).toBe("malformed request: 'authorization' was sent 2 times; HTTP/2 allows it once");
  });
});

describe('headerListSize', () => {
  it('counts name, value and 32 bytes per field, each value of a repeated name', () => {
    expect(headerListSize({ ':path': '/a', 'x-r': ['1', '22'] })).toBe(5 + 2 + 32 + (3 + 1 + 32) + (3 + 2 + 32));
  });
});

describe('requestHeaders', () => {
  it("adds HTTP/2's request fields to metadata from a front that is not HTTP/2", () => {
    const metadata = { 'x-k': 'v' };
    expect(requestHeaders('/p.S/M', metadata)).toEqual({
      'x-k': 'v',
      ':method': 'POST',
      ':scheme': 'http',
      ':path': '/p.S/M',
      'content-type': 'application/grpc',
      te: 'trailers',
    });
  });

  it("leaves the HTTP/2 front's request as the client sent it", () => {
    const metadata = { ':method': 'POST', ':scheme': 'https', ':path': '/p.S/M', ':authority': 'a', 'content-type': 'application/grpc+proto', te: 'trailers' };
    expect(requestHeaders('/p.S/M', { ...metadata })).toEqual(metadata);
  });
});
