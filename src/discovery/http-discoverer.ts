import { z } from 'zod';
import type { Logger } from '../log/logger.js';
import { joinHostPort, type Endpoint, type Resolution } from './endpoint.js';
import { PollingResolver, fetchWithCredentials, type PollingOptions } from './polling.js';
import { redactedUrl } from '../spec/redact.js';

const instancesSchema = z.object({
  instances: z.array(
    z.object({
      instance_id: z.string().min(1),
      ipv4: z.string().min(1),
      port: z.number().int().min(1).max(65535),
    }),
  ),
});

/**
 * MyGateway's discoverer contract: `GET {url}/v1/instances` answers
 * `{"instances":[{"instance_id","ipv4","port"}]}`; `POST {url}/v1/unregister/{id}`
 * removes an instance that failed.
 */
export class HttpDiscoverer extends PollingResolver {
  readonly kind = 'discoverer';
  private readonly base: string;

  constructor(url: string, options: PollingOptions, logger: Logger) {
    super(options, logger);
    this.base = url;
  }

  /** `{url}/{path}`, keeping the URL's query (an api key, say) after the path. */
  private at(path: string): string {
    const url = new URL(this.base);
    url.pathname = `${url.pathname.replace(/\/+$/, '')}/${path}`;
    return url.href;
  }

  protected get target(): string {
    return this.base;
  }

  protected async lookup(signal: AbortSignal): Promise<Resolution> {
    const { instances } = await this.getJson(this.at('v1/instances'), instancesSchema, signal);
    const byId = new Map<string, Endpoint>();
    for (const i of instances) {
      if (!byId.has(i.instance_id)) byId.set(i.instance_id, { id: i.instance_id, address: joinHostPort(i.ipv4, i.port) });
    }
    return { endpoints: [...byId.values()] };
  }

  /** Tells the discoverer an instance failed. Resolves false (and logs) when it could not. */
  async unregister(instanceId: string): Promise<boolean> {
    try {
      const response = await fetchWithCredentials(this.at(`v1/unregister/${encodeURIComponent(instanceId)}`), {
        method: 'POST',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      if (response.ok) {
        this.logger.info({ instance: instanceId, discoverer: redactedUrl(this.base) }, 'unregistered a failed instance');
        return true;
      }
      this.logger.warn({ instance: instanceId, status: response.status }, 'discoverer refused to unregister an instance');
    } catch (err) {
      this.logger.warn({ instance: instanceId, err: (err as Error).message }, 'could not unregister an instance');
    }
    return false;
  }
}
