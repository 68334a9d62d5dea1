import { ConfigError } from '../spec/errors.js';

const SAMPLERS = ['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'] as const;

/** Tracing as the standard OTEL_* variables ask for it (the OpenTelemetry environment specification). */
export interface OtelSettings {
  sampler: (typeof SAMPLERS)[number];
  /** OTEL_TRACES_SAMPLER_ARG for the ratio samplers. */
  ratio: number;
  /** OTEL_BSP_*: the batch span processor; unset ones take the SDK's defaults. */
  batch: { scheduledDelayMillis?: number; exportTimeoutMillis?: number; maxQueueSize?: number; maxExportBatchSize?: number };
}

function whole(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const value = env[name];
  if (value === undefined || value.trim() === '') return undefined;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`invalid configuration: ${name}='${value}': expected a whole number`);
  return n;
}

/**
 * Null unless the OTEL_* variables ask for traces: an OTLP endpoint
 * (OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) or
 * OTEL_TRACES_EXPORTER=otlp; OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none turn it
 * off. The exporter reads its own OTEL_EXPORTER_OTLP_* variables, and the resource
 * OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES.
 */
export function otelSettings(env: NodeJS.ProcessEnv): OtelSettings | null {
  if (env.OTEL_SDK_DISABLED?.trim().toLowerCase() === 'true') return null;
  const exporter = env.OTEL_TRACES_EXPORTER?.trim().toLowerCase();
  if (exporter === 'none') return null;
  if (exporter !== undefined && exporter !== '' && exporter !== 'otlp') {
    throw new ConfigError(`invalid configuration: OTEL_TRACES_EXPORTER='${env.OTEL_TRACES_EXPORTER}': corral exports otlp (over HTTP) or none`);
  }
  if (exporter !== 'otlp' && env.OTEL_EXPORTER_OTLP_ENDPOINT === undefined && env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT === undefined) return null;
  const sampler = (env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on').trim().toLowerCase() as OtelSettings['sampler'];
  if (!SAMPLERS.includes(sampler)) {
    throw new ConfigError(`invalid configuration: OTEL_TRACES_SAMPLER='${env.OTEL_TRACES_SAMPLER}': expected one of ${SAMPLERS.join(', ')}`);
  }
  const arg = env.OTEL_TRACES_SAMPLER_ARG;
  const ratio = arg === undefined || arg.trim() === '' ? 1 : Number(arg);
  if (!(ratio >= 0 && ratio <= 1)) throw new ConfigError(`invalid configuration: OTEL_TRACES_SAMPLER_ARG='${arg}': expected a ratio from 0 to 1`);
  return {
    sampler,
    ratio,
    batch: {
      scheduledDelayMillis: whole(env, 'OTEL_BSP_SCHEDULE_DELAY'),
      exportTimeoutMillis: whole(env, 'OTEL_BSP_EXPORT_TIMEOUT'),
      maxQueueSize: whole(env, 'OTEL_BSP_MAX_QUEUE_SIZE'),
      maxExportBatchSize: whole(env, 'OTEL_BSP_MAX_EXPORT_BATCH_SIZE'),
    },
  };
}
