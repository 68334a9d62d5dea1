/**
 * The Grafana dashboard and the Prometheus alerts: every metric they query is one corral
 * exports (compared with a scrape of a running corral), and the rules load and fire as
 * their unit tests say (promtool, from Debian's prometheus package).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse as parseYaml } from 'yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, unary, type Stack } from '../support/grpc.js';

const deploy = (path: string) => fileURLToPath(new URL(`../../deploy/${path}`, import.meta.url));
const dashboard = JSON.parse(readFileSync(deploy('grafana/corral.json'), 'utf8'));
const rules = parseYaml(readFileSync(deploy('prometheus/alerts.yaml'), 'utf8'));
const dashboardExprs: string[] = dashboard.panels.flatMap((p: { targets: Array<{ expr: string }> }) => p.targets.map((t) => t.expr));
const alertExprs: string[] = rules.groups.flatMap((g: { rules: Array<{ expr: string }> }) => g.rules.map((r) => r.expr));
const metricNames = (expr: string) => [...expr.matchAll(/\b(?:corral|process|nodejs)_[a-z_]+\b/g)].map((m) => m[0]);

let stack: Stack;
let exported: Set<string>;

beforeAll(async () => {
  stack = await startStack();
  await unary(stack.client, 'Lookup', { key: 'monitoring' });
  const { body } = await stack.proxy.admin('/metrics');
  exported = new Set();
  for (const [, name, type] of body.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    exported.add(name!);
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) exported.add(name + suffix);
  }
});

afterAll(() => stack?.stop());

describe('deploy/grafana/corral.json', () => {
  it('queries only metrics corral exports', () => {
    const used = new Set(dashboardExprs.flatMap(metricNames));
    expect(used.size).toBeGreaterThan(10);
    expect([...used].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('has the panels an operator looks for', () => {
    const titles = dashboard.panels.map((p: { title: string }) => p.title);
    for (const title of ['Collapse ratio per route', 'Backend calls per cluster, by status', 'Request latency per route (p50, p95, p99)', 'Flights in progress', 'Cache', 'Ejections', 'Process memory']) {
      expect(titles).toContain(title);
    }
  });
});

describe('deploy/prometheus/alerts.yaml', () => {
  it('queries only metrics corral exports', () => {
    expect([...new Set(alertExprs.flatMap(metricNames))].filter((name) => !exported.has(name))).toEqual([]);
  });

  it('loads in Prometheus and fires as its unit tests say (promtool)', () => {
    const dir = deploy('prometheus');
    expect(execFileSync('promtool', ['check', 'rules', 'alerts.yaml'], { cwd: dir, encoding: 'utf8' })).toMatch(/SUCCESS: 8 rules found/);
    expect(execFileSync('promtool', ['test', 'rules', 'alerts.test.yaml'], { cwd: dir, encoding: 'utf8' })).toMatch(/SUCCESS/);
  });
});
