# syntax=docker/dockerfile:1
# corral: build with the dev toolchain, run on a slim image as a non-root user.

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY cmd ./cmd
COPY bench ./bench
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    GRPC_PORT=50052 \
    METRICS_PORT=2112
WORKDIR /app
COPY --from=build --chown=node:node /app/package.json ./
COPY --from=build --chown=node:node /app/node_modules ./node_modules
COPY --from=build --chown=node:node /app/dist ./dist
COPY --from=build --chown=node:node /app/cmd/proto ./cmd/proto
# google/api/{http,annotations}.proto, for the gateway's .proto files that import them.
COPY --chown=node:node proto ./proto
COPY --chown=node:node bin ./bin
# Numeric, so a kubelet can check runAsNonRoot: the "node" user of the node images.
USER 1000:1000
EXPOSE 50052 2112
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||2112)+'/health').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# BACKEND_ADDRESS is required, e.g. docker run -e BACKEND_ADDRESS=10.0.0.5:50051 corral
# bin/corral execs node with corral's V8 flags (CORRAL_V8_FLAGS replaces them).
CMD ["bin/corral"]
