import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/config.js';
import { parseDuration } from '../../src/spec/duration.js';

describe('parseDuration (Go syntax)', () => {
  it('reads what time.ParseDuration reads', () => {
    expect(parseDuration('100ms')).toBe(100);
    expect(parseDuration('10s')).toBe(10_000);
    expect(parseDuration('1m30s')).toBe(90_000);
    expect(parseDuration('1.5h')).toBe(5_400_000);
    expect(parseDuration('500us')).toBe(0.5);
    expect(parseDuration('0')).toBe(0);
  });

  it('refuses what Go refuses', () => {
    for (const bad of ['', '10', 'ms', '1x', '1 s', '-1s', '1s ', 's1']) expect(parseDuration(bad), bad).toBeUndefined();
  });
});

describe('loadConfig', () => {
  it('has the seed defaults', () => {
    const c = loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051' });
    expect(c.grpcPort).toBe(50052);
    expect(c.metricsPort).toBe(2112);
    expect(c.backend.timeoutMs).toBe(10_000);
    expect(c.collapser.cacheTtlMs).toBe(100);
    expect(c.logLevel).toBe('info');
    expect(c.server.maxMessageBytes).toBe(4 * 1024 * 1024);
    expect(c.collapser.keyMetadata).toBeUndefined();
  });

  it('puts the admin port on localhost by default, apart from every other port', () => {
    const c = loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051', LISTEN_HOST: '0.0.0.0' });
    expect([c.adminHost, c.adminPort, c.metricsHost]).toEqual(['127.0.0.1', 9901, '0.0.0.0']);
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', ADMIN_PORT: '2112' })).toThrowError(
      'invalid configuration: METRICS_PORT=2112 and ADMIN_PORT=2112 are the same port; give each its own',
    );
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', HTTP_PORT: '9901' })).toThrowError(/ADMIN_PORT=9901 and HTTP_PORT=9901 are the same port/);
  });

  it('reads the JWT claims to check, with a 30s leeway by default', () => {
    expect(loadConfig({ BACKEND_ADDRESS: 'a:1' }).jwtClaims).toEqual({ audience: undefined, issuer: undefined, leewayMs: 30_000 });
    expect(loadConfig({ BACKEND_ADDRESS: 'a:1', JWT_AUDIENCE: 'orders', JWT_ISSUER: 'https://id.example', JWT_LEEWAY: '5s' }).jwtClaims).toEqual({
      audience: 'orders',
      issuer: 'https://id.example',
      leewayMs: 5000,
    });
  });

  it('reads the registry variables, and names what is missing once etcd endpoints are given', () => {
    const base = { BACKEND_ADDRESS: '127.0.0.1:50051', REGISTRY_ETCD_ENDPOINTS: '10.0.0.1:2379, 10.0.0.2:2379' };
    expect(() => loadConfig(base)).toThrowError(/REGISTRY_SERVICE .* and REGISTRY_ADVERTISE_ADDRESS .* are required/);
    const c = loadConfig({ ...base, REGISTRY_SERVICE: 'orders', REGISTRY_ADVERTISE_ADDRESS: '10.0.0.7:50052', REGISTRY_TTL: '2500ms' });
    expect(c.registry).toEqual({ endpoints: ['10.0.0.1:2379', '10.0.0.2:2379'], service: 'orders', address: '10.0.0.7:50052', ttlSeconds: 3, prefix: '/corral/v1/', tls: null });
    expect(loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051' }).registry).toBeNull();
    expect(() => loadConfig({ ...base, REGISTRY_SERVICE: 'orders', REGISTRY_ADVERTISE_ADDRESS: 'nowhere' })).toThrowError(/REGISTRY_ADVERTISE_ADDRESS='nowhere': expected the host:port/);
  });

  it('requires BACKEND_ADDRESS, naming it', () => {
    expect(() => loadConfig({})).toThrowError(ConfigError);
    expect(() => loadConfig({})).toThrowError(/BACKEND_ADDRESS is required/);
  });

  it('names every bad variable and its value', () => {
    let message = '';
    try {
      loadConfig({ BACKEND_ADDRESS: 'nohost', GRPC_PORT: '70000', BACKEND_TIMEOUT: '10', LOG_LEVEL: 'loud' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/BACKEND_ADDRESS='nohost': expected host:port/);
    expect(message).toMatch(/GRPC_PORT='70000': expected a TCP port/);
    expect(message).toMatch(/BACKEND_TIMEOUT='10': expected a duration/);
    expect(message).toMatch(/LOG_LEVEL='loud': expected one of/);
  });

  it('reads IPv6 addresses, durations and a narrowed key list', () => {
    const c = loadConfig({
      BACKEND_ADDRESS: '[::1]:50051',
      COLLAPSER_CACHE_DURATION: '1m30s',
      COLLAPSER_KEY_METADATA: 'Authorization, x-tenant',
    });
    expect(c.topology.clusters.backend).toEqual({ type: 'static', addresses: ['[::1]:50051'] });
    expect(c.topology.default).toEqual({ action: 'use_cluster', cluster: 'backend' });
    expect(c.collapser.cacheTtlMs).toBe(90_000);
    expect(c.collapser.keyMetadata).toEqual(['authorization', 'x-tenant']);
  });

  it('takes SERVICE_PORT_GRPC as an alias of GRPC_PORT, and refuses the two disagreeing', () => {
    expect(loadConfig({ BACKEND_ADDRESS: 'a:1', SERVICE_PORT_GRPC: '10000' }).grpcPort).toBe(10000);
    expect(loadConfig({ BACKEND_ADDRESS: 'a:1', SERVICE_PORT_GRPC: '10000', GRPC_PORT: '10000' }).grpcPort).toBe(10000);
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', SERVICE_PORT_GRPC: 'x' })).toThrowError(/SERVICE_PORT_GRPC='x': expected a TCP port/);
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', SERVICE_PORT_GRPC: '1', GRPC_PORT: '2' })).toThrowError(
      /GRPC_PORT='2' and SERVICE_PORT_GRPC='1' disagree/,
    );
  });

  it('needs BACKEND_ADDRESS or CONFIG_PATH, and says which file it cannot read', () => {
    expect(() => loadConfig({})).toThrowError(/BACKEND_ADDRESS is required.*or CONFIG_PATH/);
    expect(() => loadConfig({ CONFIG_PATH: '/nonexistent/corral.yaml' })).toThrowError(
      /CONFIG_PATH='\/nonexistent\/corral.yaml': cannot read it/,
    );
  });

  it('reads retry and ejection settings, MyGateway\'s way for retries', () => {
    const defaults = loadConfig({ BACKEND_ADDRESS: 'a:1' });
    expect(defaults.retry).toEqual({ retries: 2, attemptTimeoutMs: 0 });
    expect(defaults.ejection).toEqual({ baseMs: 30_000, maxMs: 300_000 });
    expect(defaults.jwtSecret).toBeUndefined();
    const c = loadConfig({ BACKEND_ADDRESS: 'a:1', RETRY_COUNT: '3', RETRY_TIMEOUT_MS: '5000', EJECTION_BASE_TIME: '1s', EJECTION_MAX_TIME: '1m', JWT_SECRET: 's' });
    expect(c.retry).toEqual({ retries: 3, attemptTimeoutMs: 5000 });
    expect(c.ejection).toEqual({ baseMs: 1000, maxMs: 60_000 });
    expect(c.jwtSecret).toBe('s');
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', RETRY_COUNT: '-1' })).toThrowError(/RETRY_COUNT='-1': expected a retry count/);
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', RETRY_TIMEOUT_MS: '5s' })).toThrowError(/RETRY_TIMEOUT_MS='5s': expected a timeout in milliseconds/);
    expect(() => loadConfig({ BACKEND_ADDRESS: 'a:1', EJECTION_BASE_TIME: '10m' })).toThrowError(/EJECTION_BASE_TIME='10m' is above EJECTION_MAX_TIME='5m'/);
  });

  it('refuses routes that require authorization without JWT_SECRET, and never prints the secret', () => {
    const dir = mkdtempSync(join(tmpdir(), 'corral-config-'));
    const path = join(dir, 'auth.yaml');
    writeFileSync(
      path,
      'routes:\n  - { prefix: /a.A/, cluster: c, authorization: required }\n  - { prefix: /b.B/, cluster: c, authorization: required }\nclusters: { c: { type: static, address: "h:1" } }\n',
    );
    expect(() => loadConfig({ CONFIG_PATH: path })).toThrowError(/JWT_SECRET is required: routes \/a\.A\/, \/b\.B\/ have authorization: required/);
    expect(() => loadConfig({ CONFIG_PATH: path, JWT_SECRET: '' })).toThrowError(/JWT_SECRET is required/);
    expect(loadConfig({ CONFIG_PATH: path, JWT_SECRET: 'hunter2' }).jwtSecret).toBe('hunter2');
    let message = '';
    try {
      loadConfig({ CONFIG_PATH: path, JWT_SECRET: 'hunter2', RETRY_COUNT: 'x' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/RETRY_COUNT/);
    expect(message).not.toMatch(/hunter2/);
  });

  it('refuses a reconnect minimum above the maximum', () => {
    expect(() =>
      loadConfig({ BACKEND_ADDRESS: 'a:1', BACKEND_RECONNECT_MIN: '10s', BACKEND_RECONNECT_MAX: '1s' }),
    ).toThrowError(/BACKEND_RECONNECT_MIN='10s' is above BACKEND_RECONNECT_MAX='1s'/);
  });
});

describe('COLLAPSER_FLEET', () => {
  it('is off by default, and on needs the registry, naming what to set', () => {
    expect(loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051' }).collapser.fleet).toBe(false);
    expect(() => loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051', COLLAPSER_FLEET: 'on' })).toThrowError(ConfigError);
    expect(() => loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051', COLLAPSER_FLEET: 'on' })).toThrowError(
      /COLLAPSER_FLEET=on needs the registry: set REGISTRY_ETCD_ENDPOINTS, REGISTRY_SERVICE and REGISTRY_ADVERTISE_ADDRESS/,
    );
    const registry = { REGISTRY_ETCD_ENDPOINTS: '127.0.0.1:2379', REGISTRY_SERVICE: 'shop', REGISTRY_ADVERTISE_ADDRESS: '10.0.0.7:50052' };
    expect(loadConfig({ BACKEND_ADDRESS: '127.0.0.1:50051', COLLAPSER_FLEET: 'on', ...registry }).collapser.fleet).toBe(true);
  });
});
