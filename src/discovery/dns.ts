import { lookup } from 'node:dns/promises';
import type { Logger } from '../log/logger.js';
import { joinHostPort, type Resolution } from './endpoint.js';
import { PollingResolver, type PollingOptions } from './polling.js';

/**
 * A host name re-resolved on an interval (A and AAAA, through the system resolver as
 * getaddrinfo does), e.g. a Kubernetes headless service: one endpoint per address.
 */
export class DnsResolver extends PollingResolver {
  readonly kind = 'dns';

  constructor(
    private readonly host: string,
    private readonly port: number,
    options: PollingOptions,
    logger: Logger,
  ) {
    super(options, logger);
  }

  protected get target(): string {
    return joinHostPort(this.host, this.port);
  }

  protected async lookup(signal: AbortSignal): Promise<Resolution> {
    const found = await Promise.race([
      lookup(this.host, { all: true }),
      new Promise<never>((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })),
    ]);
    const addresses = [...new Set(found.map((a) => joinHostPort(a.address, this.port)))].sort();
    return { endpoints: addresses.map((address) => ({ id: address, address })) };
  }
}
