/**
 * Every environment variable corral reads, grouped as --help and docs/configuration.md list
 * them: both are made from this table (a test keeps the docs in step), and a test checks
 * that every variable the schema reads is here. `help` is the one line --help prints;
 * `meaning` (Markdown) is the reference.
 */
export interface VariableDoc {
  /** One variable, or several documented together. */
  readonly names: readonly string[];
  /** The default as the reference writes it (Markdown). */
  readonly default: string;
  readonly help: string;
  readonly meaning: string;
}

export interface VariableGroup {
  readonly title: string;
  readonly variables: readonly VariableDoc[];
}

export const VARIABLES: readonly VariableGroup[] = [
  {
    title: "Where corral listens",
    variables: [
      {
        names: ["GRPC_PORT"],
        default: "`50052`",
        help: "the gRPC port (SERVICE_PORT_GRPC is accepted too)",
        meaning:
          "Port corral serves gRPC on (h2c). `0` picks a free port and logs it. `SERVICE_PORT_GRPC` (MyGateway's name) is accepted instead; set both only if they agree.",
      },
      {
        names: ["LISTEN_HOST"],
        default: "`0.0.0.0`",
        help: "the address the gRPC (and HTTP) port binds to",
        meaning:
          "Address the gRPC port binds to: clients in other pods reach corral on the pod IP.",
      },
      {
        names: ["METRICS_PORT"],
        default: "`2112`",
        help: "the port of /metrics, /health and /ready",
        meaning:
          "Port of `/metrics`, `/health`, `/ready`.",
      },
      {
        names: ["METRICS_HOST"],
        default: "`LISTEN_HOST`",
        help: "the address the metrics port binds to",
        meaning:
          "Address the metrics port (`/metrics`, `/health`, `/ready`) binds to. All addresses by default, because the kubelet's probes and Prometheus reach a pod on its IP; it serves nothing else.",
      },
      {
        names: ["ADMIN_PORT"],
        default: "`9901`",
        help: "the port of /config_dump, /clusters, /flights and /logging",
        meaning:
          "Port of the admin endpoints: `/config_dump`, `/clusters`, `/flights`, `/logging` (see [operations.md](operations.md)). Must differ from the other ports.",
      },
      {
        names: ["ADMIN_HOST"],
        default: "`127.0.0.1`",
        help: "the address the admin port binds to (localhost only by default)",
        meaning:
          "Address the admin port binds to. Localhost, as Envoy advises for its admin port: `/config_dump` shows the configuration (secrets redacted) and `POST /logging` changes the log level. Reach it with `kubectl port-forward pod/<pod> 9901`. Bind it elsewhere only behind a NetworkPolicy.",
      },
      {
        names: ["ADMIN_ALLOWED_HOSTS"],
        default: "(none)",
        help: "host names the admin port answers to besides IPs and localhost",
        meaning:
          "Comma-separated host names the admin port answers to besides IP addresses and `localhost`: a request whose `Host` names anything else is refused 403, so a web page that rebinds its own name to 127.0.0.1 (DNS rebinding) cannot read the views.",
      },
    ],
  },
  {
    title: "The backend",
    variables: [
      {
        names: ["BACKEND_ADDRESS"],
        default: "(required without `CONFIG_PATH`)",
        help: "host:port of the gRPC backend (cleartext HTTP/2)",
        meaning:
          "`host:port` of the gRPC backend (`[::1]:50051` for IPv6). Cleartext HTTP/2. Alone, it means: every call goes to this one backend. Ignored when `CONFIG_PATH` is set.",
      },
      {
        names: ["CONFIG_PATH"],
        default: "(unset)",
        help: "a YAML file of routes and clusters instead; re-read on SIGHUP",
        meaning:
          "YAML file of routes and clusters ([routing.md](routing.md)). Re-read on SIGHUP.",
      },
      {
        names: ["BACKEND_TIMEOUT"],
        default: "`10s`",
        help: "deadline of each collapsed backend call (a flight)",
        meaning:
          "Deadline of each collapsed backend call (a flight), unless the route sets `timeout_ms`. See [collapsing.md](collapsing.md), *Deadlines*.",
      },
      {
        names: ["BACKEND_MAX_SESSIONS"],
        default: "`16`",
        help: "HTTP/2 sessions to each backend endpoint at most",
        meaning:
          "HTTP/2 sessions to each backend endpoint at most; another is opened only when all are full.",
      },
      {
        names: ["BACKEND_STREAMS_PER_SESSION"],
        default: "`32`",
        help: "calls a session carries before another is opened",
        meaning:
          "A session counts as full at this many concurrent calls (or at the backend's advertised stream limit, if lower).",
      },
      {
        names: ["BACKEND_CONNECT_TIMEOUT"],
        default: "`10s`",
        help: "a backend connection not set up by then is abandoned",
        meaning:
          "A backend connection not established by then is abandoned.",
      },
      {
        names: ["BACKEND_RECONNECT_MIN", "BACKEND_RECONNECT_MAX"],
        default: "`200ms` / `5s`",
        help: "backoff between failed connection attempts",
        meaning:
          "Backoff between failed connection attempts: ×1.6 each time, ±20 % jitter, as grpc does (shorter than grpc's 1s/120s: the backend is a local sidecar peer).",
      },
      {
        names: ["BACKEND_KEEPALIVE_TIME", "BACKEND_KEEPALIVE_TIMEOUT"],
        default: "`5m` / `20s`",
        help: "PING interval on busy backend sessions, and how long an ack may take",
        meaning:
          "PING interval on backend sessions that carry calls, and how long to wait for the ack before dropping the session.",
      },
      {
        names: ["RETRY_COUNT"],
        default: "`2`",
        help: "attempts on another endpoint after a backend failure",
        meaning:
          "Attempts after the first when a backend fails before answering, each on an instance the call has not failed on (MyGateway's name). `0`: no retries. At most 20% of a cluster's calls under way (and 3 whatever the load) may be retries: the retry budget ([overload.md](overload.md#retries-have-a-budget)). See [upstream.md](upstream.md).",
      },
      {
        names: ["RETRY_TIMEOUT_MS"],
        default: "`0` (none)",
        help: "an attempt without response headers by then has failed (0: none)",
        meaning:
          "Whole milliseconds an attempt may wait for the backend's response headers before it counts as failed and the next instance is tried (MyGateway's name). Off by default, see below.",
      },
      {
        names: ["EJECTION_BASE_TIME", "EJECTION_MAX_TIME"],
        default: "`30s` / `5m`",
        help: "how long a failed endpoint sits out, doubling in a row",
        meaning:
          "A failed endpoint sits out `base × 2^(n−1)` for its n-th ejection in a row, at most max (Envoy's defaults).",
      },
    ],
  },
  {
    title: "What is collapsed",
    variables: [
      {
        names: ["COLLAPSER_METHODS"],
        default: "(unset)",
        help: "reads to collapse besides those declared NO_SIDE_EFFECTS (* for all)",
        meaning:
          "Same syntax, or `*` for every method. These calls are collapsed, besides those the descriptors declare `NO_SIDE_EFFECTS`. With nothing listed or declared, nothing is collapsed. A full name the descriptors take for a typo (differs from a described one only in case, or its described service lacks it) stops start-up.",
      },
      {
        names: ["COLLAPSER_SKIP_METHODS"],
        default: "(unset)",
        help: "methods never collapsed nor cached, whatever declares them",
        meaning:
          "Comma-separated full method names (`/pkg.Service/Method`) and service prefixes ending in `/` (`/pkg.Service/`): these calls are passed through, never collapsed, never cached, whatever declares or lists them.",
      },
      {
        names: ["COLLAPSER_STREAM_JOIN"],
        default: "(unset: `replay`)",
        help: "how a caller joins a server stream under way: /pkg.S/Watch=latest,/pkg.Events/=live",
        meaning:
          "Comma-separated `method=join`, where method is a full name or a service prefix ending in `/`, and join is `replay` (the default: a joiner gets the response from its start, recorded up to `COLLAPSER_MAX_RESPONSE_BYTES`), `latest` (a state stream: a joiner gets the headers and the latest message at once, then every one after; a watcher that stops reading skips to the latest) or `live` (an event stream: a joiner gets the headers and every message from then on; a watcher more than `COLLAPSER_MAX_RESPONSE_BYTES` behind is ended with RESOURCE_EXHAUSTED). `latest` and `live` streams are never recorded, so they take watchers for as long as the backend stream runs; it ends when its last watcher leaves. A route's `stream_join` overrides this. A method the descriptors say answers one message is always `replay`. See [collapsing.md](collapsing.md#long-server-streams-live-fan-out).",
      },
      {
        names: ["COLLAPSER_REFLECTION"],
        default: "`on`",
        help: "ask the backend over server reflection which methods are reads",
        meaning:
          "`on`: corral asks each backend endpoint over gRPC server reflection (`grpc.reflection.v1`, then `v1alpha`) which methods it serves, at start, when the endpoint appears and when it comes back; the methods it declares `idempotency_level = NO_SIDE_EFFECTS` are collapsed (merged with the `http` section's descriptors). `/ready` waits for the first answers (at most 5 s). A backend without reflection teaches nothing. `off`: corral never asks.",
      },
      {
        names: ["COLLAPSER_KEY_METADATA"],
        default: "(unset)",
        help: "only these metadata names count in the collapse key",
        meaning:
          "Comma-separated metadata names. When set, **only** these count in the key (unless the route sets `key_metadata`). Unset: all metadata except transport and tracing headers.",
      },
      {
        names: ["COLLAPSER_KEY_IGNORE_FIELDS"],
        default: "(unset)",
        help: "request fields left out of the key, e.g. request_id,trace.span_id",
        meaning:
          "Comma-separated field paths (`request_id`, `trace.span_id`) left out of the key of every collapsed method whose request message has them, as its descriptor (server reflection, or the routes file's) says; a route's `key_ignore_fields` replaces the list for it. Calls that differ only in these fields share a flight and a cached answer, and the backend gets the leader's request as sent: followers get an answer computed for another `request_id`. A path that is not a field of a described request is an error at start-up (a warning when reflection describes it later); one no described request has is a warning. With a descriptor, map entries are keyed in sorted order too. See [collapsing.md](collapsing.md#keys-that-leave-fields-out).",
      },
      {
        names: ["COLLAPSER_MAX_FOLLOWERS"],
        default: "`10000`",
        help: "callers one flight takes besides its leader",
        meaning:
          "Callers that may wait on one flight besides its leader; the next caller leads a flight of its own (one more backend call per full waiting list), so a herd one client parks on a key never refuses another client's call of it.",
      },
      {
        names: ["COLLAPSER_MAX_WAIT"],
        default: "`0s` (off)",
        help: "a follower waiting this long makes its own call (0: off)",
        meaning:
          "A follower that has waited this long for its flight gets the answer kept for errors, or makes its own (uncached) backend call.",
      },
      {
        names: ["COLLAPSER_HALF_CLOSE_WAIT"],
        default: "`10ms`",
        help: "a request quiet this long without ending is a stream",
        meaning:
          "How long a request may stay quiet without ending before it is treated as a stream. See [collapsing.md](collapsing.md), *Which calls are collapsed*.",
      },
      {
        names: ["COLLAPSER_MAX_RESPONSE_BYTES"],
        default: "`4194304` (4 MiB)",
        help: "bound on one recorded response, and on how far a waiter may fall behind",
        meaning:
          "Bound on one recorded response (per flight and per cache entry), and on how far a waiter may fall behind.",
      },
      {
        names: ["COLLAPSER_READ_YOUR_WRITES"],
        default: "`on`",
        help: "a write that ends OK drops its service's cached answers",
        meaning:
          "`on`: a call that a route does not collapse (a skipped method, a stream) and that ends OK drops the cached answers of its own service (`/pkg.Service/`) and stops new callers joining its flights, so a read after a write through the same corral is fresh. A route's `invalidates`, when given, says what it drops instead. `off`: reads may be served from the cache until its TTL. Writes made elsewhere are bounded by the TTL either way.",
      },
      {
        names: ["COLLAPSER_INVALIDATION_INTERVAL"],
        default: "`100ms`",
        help: "past a burst of 10, writes empty the same answers once per this long",
        meaning:
          "How often writes may empty the same answers (a service's, or a route's `invalidates`) once a burst of 10 is spent: a token bucket per service, where only a write that dropped something (an answer, a flight) spends a token. Past the burst, the writes of an interval are folded into one invalidation at its end, so a loop of writes cannot empty a hot key's cache for everyone; a read after such a folded write may be one interval old. `0`: every write invalidates at once. See [collapsing.md](collapsing.md#read-your-writes).",
      },
    ],
  },
  {
    title: "The cache and outages",
    variables: [
      {
        names: ["COLLAPSER_CACHE_DURATION"],
        default: "`100ms`",
        help: "how long an OK answer is served from the cache (0: no cache)",
        meaning:
          "How long a completed OK response is served from the cache, unless the route sets `cache_ttl_ms`. `0` turns caching off (calls are still collapsed while in flight).",
      },
      {
        names: ["COLLAPSER_STALE_WHILE_REVALIDATE"],
        default: "`0s`",
        help: "after that, the old answer at once while one call refreshes it",
        meaning:
          "For this long after the TTL, callers get the expired answer at once while one background call refreshes it ([collapsing.md](collapsing.md#the-cache-policy-what-a-herd-gets-while-the-backend-is-slow-or-down)).",
      },
      {
        names: ["COLLAPSER_STALE_IF_ERROR"],
        default: "`0s`",
        help: "after that, the old answer instead of a transient failure",
        meaning:
          "For this long after that, a transient failure (UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, INTERNAL, UNKNOWN) gives every waiter the last OK answer instead. While a cluster's backend is down, corral stays ready (`/ready` 200, degraded) for as long as such an answer could still stand in for it ([operations.md](operations.md#readiness-during-an-outage)).",
      },
      {
        names: ["COLLAPSER_CACHE_STATUSES"],
        default: "(none)",
        help: "negative caching by status, e.g. NOT_FOUND=2s",
        meaning:
          "Negative caching: `NOT_FOUND=2s,INVALID_ARGUMENT=1s`. UNAUTHENTICATED and PERMISSION_DENIED are refused.",
      },
      {
        names: ["COLLAPSER_CACHE_MAX_TTL"],
        default: "`5m`",
        help: "the most a backend's cache-control: max-age may set",
        meaning:
          "The most a backend's `cache-control: max-age` may set.",
      },
      {
        names: ["COLLAPSER_CACHE_MIN_USES"],
        default: "`1`",
        help: "cache a key only once asked this many times within 10 s",
        meaning:
          "An answer is cached once its key has been asked for this many times within 10 s (nginx's `proxy_cache_min_uses`); 2 keeps one-off keys out of the cache. See [collapsing.md](collapsing.md).",
      },
      {
        names: ["COLLAPSER_CACHE_MAX_BYTES"],
        default: "`67108864` (64 MiB)",
        help: "bound on all cached answers together",
        meaning:
          "Bound on all cached responses together; least recently used go first. Each entry is charged its body, its header text and 1 KiB, at least what it really holds (a 1 KiB answer takes ~1.9 KiB of heap and buffers). Peak RSS grows by about twice what you add here ([runtime.md](runtime.md)).",
      },
    ],
  },
  {
    title: "Overload",
    variables: [
      {
        names: ["BACKEND_CONCURRENCY"],
        default: "`off`",
        help: "calls each cluster's backend gets at once: off, a number or adaptive",
        meaning:
          "Calls each cluster's backend gets at once: `off`, a number from 1 to 100000, or `adaptive` (found from latency). Calls over it wait up to `BACKEND_QUEUE_TIMEOUT`, then are shed with `UNAVAILABLE` and `grpc-retry-pushback-ms` (503 and `Retry-After` at the gateway). A cluster's `concurrency` in the routes file overrides it. Followers and cache hits never count. See [overload.md](overload.md).",
      },
      {
        names: ["BACKEND_QUEUE_TIMEOUT"],
        default: "`100ms`",
        help: "the longest a call over the limit waits for a slot",
        meaning:
          "The longest a call over the limit waits for a slot, never past what its deadline allows. `0`: shed at once.",
      },
      {
        names: ["BACKEND_CONCURRENCY_FAIR_BY"],
        default: "(unset)",
        help: "share the slots in turn by this metadata, or identity",
        meaning:
          "While a limit binds, its slots go in turn to the values of this metadata (`x-tenant`), or with `identity` to each verified caller (the JWT subject on routes that check tokens, else the client certificate; start-up refuses `identity` with neither configured).",
      },
    ],
  },
  {
    title: "Client limits",
    variables: [
      {
        names: ["MAX_MESSAGE_BYTES"],
        default: "`4194304` (4 MiB)",
        help: "largest request message",
        meaning:
          "Largest request message, as gRPC's default receive limit. Larger: RESOURCE_EXHAUSTED.",
      },
      {
        names: ["MAX_CONCURRENT_STREAMS"],
        default: "`1000`",
        help: "HTTP/2 streams per client connection",
        meaning:
          "HTTP/2 streams per client connection (advertised in SETTINGS).",
      },
      {
        names: ["MAX_CONNECTIONS"],
        default: "`4096`",
        help: "client connections per port; the idlest goes first",
        meaning:
          "Client connections per port (the gRPC port and the HTTP port each). At the limit a new connection closes (GOAWAY) the one that has had no call open the longest; only when every connection carries a call is the new one refused.",
      },
      {
        names: ["MAX_CONNECTIONS_PER_PEER"],
        default: "`0` (no limit)",
        help: "client connections one address may hold per port (0: no limit)",
        meaning:
          "Client connections one address may hold per port; more are refused. Set it where clients reach corral over a network and each has an address of its own (not behind a NAT or a proxy).",
      },
      {
        names: ["CLIENT_IDLE_TIMEOUT"],
        default: "`3m`",
        help: "a client connection with no call this long is closed (0: never)",
        meaning:
          "A client connection with no call open for this long is closed with GOAWAY (nginx's `http2_idle_timeout`, 3 min; Envoy's `idle_timeout`); gRPC clients reconnect on their next call. `0`: never.",
      },
      {
        names: ["MAX_OPEN_CALLS"],
        default: "`10000`",
        help: "client calls open at once, both fronts together",
        meaning:
          "Client calls open at once, both fronts together. At the limit a new call is taken if some connection holds at least two calls more than the new call's: that connection's oldest call is ended with RESOURCE_EXHAUSTED (shed); otherwise the new call is refused with `REFUSED_STREAM` (503 over HTTP/1.1), which gRPC clients retry. So one client holding many calls open cannot lock the others out.",
      },
      {
        names: ["MAX_REQUEST_BUFFER_BYTES"],
        default: "`67108864` (64 MiB)",
        help: "request bytes corral holds, both fronts together",
        meaning:
          "Request bytes corral holds, both fronts together: what it read of a call before knowing whether it is one message or a stream, and a whole request kept for retries until the call ends. Past it new calls are refused (`REFUSED_STREAM`, 503), and a call whose bytes would take corral over it ends with RESOURCE_EXHAUSTED.",
      },
      {
        names: ["OVERLOAD_HEAP_BYTES"],
        default: "half the container's memory limit; else `0` (off)",
        help: "live memory above which new calls are refused",
        meaning:
          "Live memory (V8's heap in use plus the buffers it tracks) above which new calls are refused (`REFUSED_STREAM`, 503) until it falls below 90 % of it (Envoy's overload manager's *stop accepting requests*). The default reads the cgroup limit (`resources.limits.memory`); half, because the node binary, nghttp2 and the allocator take the rest of what the kernel counts. corral collects garbage itself (at most every 5 s) before it decides, so garbage never counts as held.",
      },
      {
        names: ["HANDSHAKE_TIMEOUT"],
        default: "`10s`",
        help: "a client connection not set up (TLS, HTTP/2 preface) by then is reset",
        meaning:
          "A client connection to the gRPC port that has not finished its TLS handshake and sent HTTP/2's preface and SETTINGS by then is reset, so silent connections cannot hold `MAX_CONNECTIONS` (grpc-go's `ConnectionTimeout`, 120 s there; nginx's `ssl_handshake_timeout`, 60 s). A connection that set up stays until `CLIENT_IDLE_TIMEOUT`. The HTTP port gives a new connection 60 s for its first bytes or its TLS handshake.",
      },
    ],
  },
  {
    title: "TLS",
    variables: [
      {
        names: ["TLS_CERT_FILE", "TLS_KEY_FILE"],
        default: "(unset: cleartext)",
        help: "serve TLS on the gRPC and HTTP ports with this certificate and key",
        meaning:
          "Serve TLS on `GRPC_PORT` (ALPN `h2`) and `HTTP_PORT` with this PEM certificate (chain) and key. Read at start (a file that cannot be read, has expired or does not match its key is exit 2 naming it), then again whenever the files change and on SIGHUP. See [tls.md](tls.md).",
      },
      {
        names: ["TLS_CLIENT_CA_FILE"],
        default: "(unset)",
        help: "require client certificates signed by this CA (mTLS)",
        meaning:
          "Require a client certificate signed by this CA (mTLS): others are refused in the handshake. The client's certificate reaches the backend as `x-forwarded-client-cert` and is in every collapse key.",
      },
      {
        names: ["BACKEND_TLS"],
        default: "`off`",
        help: "reach BACKEND_ADDRESS over TLS",
        meaning:
          "`on`: reach `BACKEND_ADDRESS` over TLS, its certificate checked against the system's roots (or `BACKEND_TLS_CA_FILE`). Any `BACKEND_TLS_*` below turns it on. With `CONFIG_PATH`, give each cluster its own `tls` instead.",
      },
      {
        names: ["BACKEND_TLS_CA_FILE", "BACKEND_TLS_CERT_FILE", "BACKEND_TLS_KEY_FILE", "BACKEND_TLS_SERVER_NAME"],
        default: "(unset)",
        help: "the backend's CA, corral's client certificate and key, the name to verify",
        meaning:
          "The CA the backend's certificate must chain to; corral's client certificate and key (for a backend that requires one); the name the backend's certificate must carry (and SNI), when it is not the address's host.",
      },
    ],
  },
  {
    title: "Authentication",
    variables: [
      {
        names: ["JWT_SECRET"],
        default: "(unset)",
        help: "HMAC secret of the tokens checked on routes with authorization: required",
        meaning:
          "HMAC secret of the HS256 tokens checked on routes with `authorization: required`. Required when any route has it: start-up (and a reload) refuses such a config without it. Never logged.",
      },
      {
        names: ["JWT_AUDIENCE"],
        default: "(unset)",
        help: "a token's aud must name this",
        meaning:
          "When set, a token's `aud` must name it (a string, or an array holding it), on both fronts; unset, `aud` is not checked.",
      },
      {
        names: ["JWT_ISSUER"],
        default: "(unset)",
        help: "a token's iss must be this",
        meaning:
          "When set, a token's `iss` must equal it, on both fronts; unset, `iss` is not checked.",
      },
      {
        names: ["JWT_LEEWAY"],
        default: "`30s`",
        help: "clock skew allowed for exp, nbf and iat",
        meaning:
          "Clock skew allowed between the token issuer's clock and corral's, for `exp`, `nbf` and an `iat` in the future.",
      },
    ],
  },
  {
    title: "HTTP/JSON gateway",
    variables: [
      {
        names: ["HTTP_PORT", "HTTP_MAX_BODY_BYTES"],
        default: "(unset: off) / `MAX_MESSAGE_BYTES`",
        help: "the gateway's port (unset: off), and its largest request body",
        meaning:
          "The HTTP/JSON gateway's port (HTTP/1.1 and h2c, or over TLS h2 and http/1.1 by ALPN), and its largest request body; routes in `CONFIG_PATH` under `http`. See [gateway.md](gateway.md).",
      },
    ],
  },
  {
    title: "Registry and fleet (etcd)",
    variables: [
      {
        names: ["REGISTRY_ETCD_ENDPOINTS", "REGISTRY_SERVICE", "REGISTRY_ADVERTISE_ADDRESS", "REGISTRY_TTL", "REGISTRY_PREFIX"],
        default: "(unset), (unset), (unset), `10s`, `/corral/v1/`",
        help: "register this corral in etcd",
        meaning:
          "Register this corral in etcd; see [registry.md](registry.md).",
      },
      {
        names: ["REGISTRY_ETCD_CA_FILE", "REGISTRY_ETCD_CERT_FILE", "REGISTRY_ETCD_KEY_FILE"],
        default: "(unset: cleartext)",
        help: "etcd over TLS",
        meaning:
          "etcd over TLS, checked against this CA, with this client certificate and key when etcd requires one: the registry, the fleet's members and clusters of type `etcd`. See [tls.md](tls.md).",
      },
      {
        names: ["COLLAPSER_FLEET"],
        default: "`off`",
        help: "collapse as one with every corral registered under REGISTRY_SERVICE",
        meaning:
          "`on`: every corral registered `SERVING` under `REGISTRY_SERVICE` collapses as one: a flight for a key another member owns goes to that member's corral ([fleet.md](fleet.md)). Needs `REGISTRY_ETCD_ENDPOINTS`, `REGISTRY_SERVICE` and `REGISTRY_ADVERTISE_ADDRESS` (exit 2 naming them).",
      },
      {
        names: ["COLLAPSER_FLEET_PEER_ID"],
        default: "(unset)",
        help: "over TLS, the SPIFFE ID the sidecars present to each other",
        meaning:
          "Over TLS, required with `COLLAPSER_FLEET=on`: the SPIFFE ID the sidecars present to each other, which `TLS_CERT_FILE` must carry (exit 2 otherwise). A peer with it may say whose call it forwards, so give it only to corral, never to the app beside it ([fleet.md](fleet.md#over-tls)).",
      },
    ],
  },
  {
    title: "Logs, metrics and traces",
    variables: [
      {
        names: ["LOG_LEVEL"],
        default: "`info`",
        help: "fatal, error, warn, info, debug, trace or silent",
        meaning:
          "`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. `POST /logging?level=` on the admin port changes it while corral runs.",
      },
      {
        names: ["ACCESS_LOG"],
        default: "`off`",
        help: "off, stdout or a file: one JSON line per call",
        meaning:
          "`stdout`, or a file path: one JSON line per finished call (see [operations.md](operations.md), *Access log*). The file is opened (appending) at start; a path corral cannot write stops it from starting.",
      },
      {
        names: ["RESPONSE_OUTCOME_HEADER"],
        default: "(unset)",
        help: "a response header that says how each call was served",
        meaning:
          "A metadata name, e.g. `x-corral-outcome`: each response's headers then say how the call was served: `cache_hit`, `follower`, `leader`, `bypass`, `stale`, `stale_if_error`, `shed` or `rejected` (as nginx's `$upstream_cache_status`). Off by default: corral is otherwise invisible on the wire.",
      },
      {
        names: ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_*"],
        default: "(unset)",
        help: "OpenTelemetry tracing, off unless set",
        meaning:
          "OpenTelemetry tracing, off unless these ask for it; see [operations.md](operations.md), *Tracing*.",
      },
    ],
  },
  {
    title: "Shutdown",
    variables: [
      {
        names: ["SHUTDOWN_DELAY"],
        default: "`0s`",
        help: "after SIGTERM, serve on as usual this long before draining",
        meaning:
          "After SIGTERM/SIGINT, `/ready` turns 503 at once, but corral keeps accepting connections and serving calls as usual for this long before it drains (Kubernetes removes a pod from Services asynchronously; 5s is typical there).",
      },
      {
        names: ["SHUTDOWN_GRACE"],
        default: "`20s`",
        help: "how long calls in progress may take to finish once draining",
        meaning:
          "How long calls in progress may take to finish once draining starts.",
      },
    ],
  },
  {
    title: "How bin/corral starts node",
    variables: [
      {
        names: ["CORRAL_V8_FLAGS"],
        default: "`--max-semi-space-size=4 --no-maglev --heap-growing-percent=100`",
        help: "node's V8 flags (empty: V8's defaults)",
        meaning:
          "Read by `bin/corral` (what `npm start` and the image run): the V8 flags node starts with. Empty for V8's defaults. See [runtime.md](runtime.md).",
      },
      {
        names: ["CORRAL_NODE"],
        default: "(unset)",
        help: "the node binary to run",
        meaning:
          "Read by `bin/corral`: the node binary to run. Unset, the project's (`node_modules/.bin/node`, Node 24, installed by `npm ci`) when it is there, else the first `node` on `PATH` (the image's).",
      },
    ],
  },
];

/** Markdown as plain text: code spans and links unwrapped. */
function plain(markdown: string): string {
  return markdown.replace(/\[([^\]]+)\]\([^)]*\)/g, '$1').replace(/`/g, '');
}

const NAME_COLUMN = 34;

/** The variables as --help lists them: by group, one line each, with the default. */
export function variablesHelp(): string {
  const lines: string[] = [];
  for (const group of VARIABLES) {
    lines.push(`${group.title}:`);
    for (const v of group.variables) {
      const names = v.names.join(', ');
      const text = `${v.help} [${plain(v.default)}]`;
      // Names too long for the column get a line of their own.
      if (names.length > NAME_COLUMN) lines.push(`  ${names}`, `  ${''.padEnd(NAME_COLUMN)} ${text}`);
      else lines.push(`  ${names.padEnd(NAME_COLUMN)} ${text}`);
    }
    lines.push('');
  }
  return lines.join('\n');
}

/** The variables as docs/configuration.md lists them: a table per group. */
export function variablesReference(): string {
  const parts: string[] = [];
  for (const group of VARIABLES) {
    parts.push(`### ${group.title}`, '', '| Variable | Default | Meaning |', '|---|---|---|');
    for (const v of group.variables) parts.push(`| ${v.names.map((n) => `\`${n}\``).join(', ')} | ${v.default} | ${v.meaning} |`);
    parts.push('');
  }
  return parts.join('\n');
}
