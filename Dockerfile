# kong-log-relay container image: multi-stage, production dependencies only, non-root.
# Build: docker build -t kong-log-relay .
# Run:   docker run -v ./config.yaml:/etc/kong-log-relay/config.yaml:ro -v klr-state:/var/lib/kong-log-relay kong-log-relay

FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY test ./test
COPY bench ./bench
COPY tools ./tools
# `prepare` compiles TypeScript to dist/.
RUN npm ci --no-audit --no-fund

FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production
WORKDIR /opt/kong-log-relay
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY config ./config
RUN mkdir -p /etc/kong-log-relay /var/lib/kong-log-relay \
 && cp config/example.yaml /etc/kong-log-relay/config.yaml \
 && chown -R node:node /var/lib/kong-log-relay
USER node
VOLUME ["/var/lib/kong-log-relay"]
# The baked-in config/example.yaml reads its listen addresses from these: every interface, so the
# exposed ports reach it from other containers (a config of your own sets its own addresses).
ENV RELAY_HTTP_LISTEN=:9876 RELAY_ADMIN_LISTEN=:9877
# 9876: http-log receiver (if configured); 9877: admin (/healthz /readyz /metrics /status).
EXPOSE 9876 9877
# Node is PID 1 and handles SIGTERM (drain, then exit 0) and SIGHUP (reload) itself; it starts no
# child processes, so no init is needed to reap zombies.
STOPSIGNAL SIGTERM
# `health` asks /healthz at the admin address the config gives (exit 0 or 1).
HEALTHCHECK --interval=15s --timeout=5s --start-period=10s --retries=3 \
  CMD ["node", "/opt/kong-log-relay/dist/src/main.js", "health", "-c", "/etc/kong-log-relay/config.yaml"]
ENTRYPOINT ["node", "/opt/kong-log-relay/dist/src/main.js"]
CMD ["run", "-c", "/etc/kong-log-relay/config.yaml"]
