import { describe, expect, it } from 'vitest';
import type { Call, Downstream, Handler } from '../../src/call/call.js';
import { createLogger } from '../../src/log/logger.js';
import { Guard } from '../../src/server/guard.js';
import { Status } from '../../src/wire/status.js';
import { RecordingDownstream } from '../collapse/fakes.js';

const call: Call = { stream: false, method: '/p.S/M', metadata: {}, deadline: Infinity, body: Buffer.alloc(5) };

describe('Guard', () => {
  it('ends a call whose stages threw with INTERNAL, instead of letting the exception reach the event loop', () => {
    const throwing: Handler = {
      handle() {
        throw new TypeError('Added label "x-injected" is not included in initial labelset');
      },
    };
    const downstream = new RecordingDownstream();
    expect(() => new Guard(throwing, createLogger('silent')).handle(call, downstream)).not.toThrow();
    expect(downstream.error?.code).toBe(Status.INTERNAL);
    expect(downstream.error?.message).toBe('corral failed on this call: Added label "x-injected" is not included in initial labelset');
  });

  it('hands every other call on untouched', () => {
    const seen: Downstream[] = [];
    const downstream = new RecordingDownstream();
    new Guard({ handle: (_c, d) => void seen.push(d) }, createLogger('silent')).handle(call, downstream);
    expect(seen).toEqual([downstream]);
    expect(downstream.error).toBeNull();
  });
});
