/**
 * The Kubernetes examples, checked without a cluster: each object against the Kubernetes
 * API's JSON schema (kubernetes-models), the pods against the "restricted" Pod Security
 * Standard, and the sidecar set-up corral needs. The Dockerfile runs Node 24 as a numeric user.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Pod, Service } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { describe, expect, it } from 'vitest';

const dir = new URL('../../deploy/kubernetes/', import.meta.url);
const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
const objects = files.flatMap((file) =>
  parseAllDocuments(readFileSync(new URL(file, dir), 'utf8')).map((doc) => ({ file, object: doc.toJS() as Record<string, any> })),
);
const MODELS: Record<string, new (o: any) => { validate(): void }> = { Pod, Service, Deployment };

type PodSpec = Record<string, any>;
const podSpecs = objects.flatMap(({ file, object }): Array<[string, PodSpec]> =>
  object.kind === 'Pod' ? [[file, object.spec]] : object.kind === 'Deployment' ? [[file, object.spec.template.spec]] : [],
);
const durationSeconds = (v: string) => Number(/^(\d+)s$/.exec(v)![1]);

describe('deploy/kubernetes', () => {
  it('has a Pod, a Deployment and a Service', () => {
    expect(objects.map((o) => `${o.file} ${o.object.kind}`).sort()).toEqual(['deployment.yaml Deployment', 'deployment.yaml Service', 'pod.yaml Pod']);
  });

  it.each(objects.map((o) => [`${o.file} ${o.object.kind}`, o.object] as const))('%s is valid against the Kubernetes schema', (_name, object) => {
    const Model = MODELS[object.kind]!;
    expect(() => new Model(object).validate()).not.toThrow();
  });

  it.each(podSpecs)('%s: the pod meets the restricted Pod Security Standard', (_file, spec) => {
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(spec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(spec.hostNetwork ?? false).toBe(false);
    for (const c of [...spec.initContainers, ...spec.containers]) {
      expect(c.securityContext, c.name).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
      expect(c.securityContext.privileged ?? false).toBe(false);
    }
  });

  it.each(podSpecs)('%s: corral is a native sidecar in front of an app on 127.0.0.1, with delay, grace and resources', (_file, spec) => {
    const corral = spec.initContainers.find((c: any) => c.name === 'corral');
    expect(corral.restartPolicy).toBe('Always');
    const env = Object.fromEntries(corral.env.map((e: any) => [e.name, e.value]));
    expect(env.BACKEND_ADDRESS).toMatch(/^127\.0\.0\.1:/);
    // Safe as shipped: nothing is collapsed unless the app declares it a read.
    expect(env.COLLAPSER_METHODS).toBeUndefined();
    const delay = durationSeconds(env.SHUTDOWN_DELAY);
    expect(delay).toBeGreaterThan(0);
    const preStop = spec.containers[0].lifecycle.preStop.sleep.seconds;
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + delay + durationSeconds(env.SHUTDOWN_GRACE));
    expect(corral.resources.requests).toMatchObject({ cpu: expect.any(String), memory: expect.any(String) });
    expect(corral.resources.limits.memory).toBeTruthy();
    expect(corral.readinessProbe.httpGet.path).toBe('/ready');
    expect(spec.containers.find((c: any) => c.name === 'app').env[0].value).toMatch(/^127\.0\.0\.1:/);
  });

  it("the Service sends clients to corral's port, never the app's", () => {
    const service = objects.find((o) => o.object.kind === 'Service')!.object;
    const deployment = objects.find((o) => o.object.kind === 'Deployment')!.object;
    const corral = deployment.spec.template.spec.initContainers.find((c: any) => c.name === 'corral');
    expect(corral.ports.map((p: any) => p.name)).toContain(service.spec.ports[0].targetPort);
  });

  it('the image runs Node 24 as a numeric user', () => {
    const dockerfile = readFileSync(new URL('../../Dockerfile', import.meta.url), 'utf8');
    expect(dockerfile.match(/^FROM .*/gm)).toEqual(['FROM node:24-bookworm-slim AS build', 'FROM node:24-bookworm-slim']);
    expect(dockerfile).toMatch(/^USER \d+:\d+$/m);
    expect(dockerfile).toMatch(/^CMD \["bin\/corral"\]$/m);
  });
});
