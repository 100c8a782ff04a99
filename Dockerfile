# One image for every Galaxy program (docs/operations.md, The image):
#   docker build -t galaxy .
#   docker run -e GALAXY_SERVICE=gateway galaxy     # a service: gateway, identity, agent-registry,
#                                                   # execution-worker, audit, dev-model
#   docker run galaxy setup                         # one-off programs by argument: setup, cli <args>
# The health check reads GALAXY_SERVICE, so a service is chosen with it, not by argument.
# The final stage holds the compiled programs (dist/) and the production dependencies only,
# and runs as the unprivileged `node` user.
FROM node:20-bookworm-slim AS base
RUN npm install -g pnpm@12.4.2 && npm cache clean --force
WORKDIR /app

# Copies out only what `pnpm install` reads (the patches of dependencies included), keeping the folders, so the install layers
# below are rebuilt when a manifest or the lockfile changes and not on every source edit.
# (`COPY services/*/package.json` would flatten the paths.)
FROM base AS manifests
COPY . /src
RUN mkdir /manifests \
 && cd /src \
 && cp --parents package.json pnpm-lock.yaml pnpm-workspace.yaml /manifests \
 && cp -r patches /manifests/patches \
 && if [ -f .npmrc ]; then cp --parents .npmrc /manifests; fi \
 && find libs services -mindepth 2 -maxdepth 2 -name package.json -exec cp --parents {} /manifests \;

# Every dependency, the build tooling included, to compile dist/<program>/main.js.
FROM base AS build
COPY --from=manifests /manifests/ ./
RUN CI=true pnpm install --frozen-lockfile
COPY . .
# The console first: the build copies it into dist/console, which the gateway serves at /console.
# --no-link: the final stage gives dist/ a flat node_modules of its own, next to it.
RUN pnpm --filter @galaxy/console run build && node --import tsx scripts/build.ts --no-link

# The production dependencies alone, flat (scripts/install-production.sh, which the test of
# the production install runs too).
FROM base AS production-dependencies
COPY --from=manifests /manifests/ ./
COPY scripts/install-production.sh /usr/local/bin/install-production
RUN sh /usr/local/bin/install-production /production

FROM node:20-bookworm-slim
ENV NODE_ENV=production
# The environment every compiled program starts with (scripts/program-args.ts, docs/operations.md "Memory").
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=production-dependencies /production/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin/start.sh bin/service.mjs bin/healthcheck.mjs ./bin/
# The code stays root's and read-only; the one place a program writes (audit's retention
# exports, AUDIT_EXPORT_DIR) is the node user's.
RUN mkdir -p /app/var/audit-exports && chown -R node:node /app/var
USER node
# Inside a container the gateway and the ops ports (health, metrics) must answer on every
# interface; publish only the gateway's port outside the private network.
ENV OPS_HOST=0.0.0.0 GATEWAY_HOST=0.0.0.0
EXPOSE 8080 8081 8082 8083 8084 8089
# Readiness of the program GALAXY_SERVICE names, on its ops port (the gateway: its API port).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 CMD ["node", "bin/healthcheck.mjs"]
# node with the heap flags of the program it runs (scripts/program-args.ts, docs/operations.md "Memory").
ENTRYPOINT ["sh", "bin/start.sh"]
