# Gatehouse container image: a build stage that installs everything and compiles the server and the resource-server
# kit (npm run build), and a runtime stage with production dependencies only (no dev and no optional dependencies:
# no PGlite, no tsx), running as the unprivileged `node` user. The image holds no TypeScript sources, so
# bin/gatehouse.js runs the compiled JavaScript in dist/server whatever NODE_ENV is (no TypeScript loader in memory:
# about 70 MB less RSS, see docs/PERFORMANCE.md).
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/resource-server/package.json ./packages/resource-server/
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY packages/resource-server/tsconfig.json ./packages/resource-server/
COPY packages/resource-server/src ./packages/resource-server/src
COPY src ./src
COPY migrations ./migrations
RUN npm run build

FROM node:22-bookworm-slim AS runtime
# HOST=0.0.0.0 explicitly: a container is reached through its published port, while outside production the default
# bind is 127.0.0.1 (docs/SECURITY.md, "Issue 16").
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    DATA_DIR=/app/data
WORKDIR /app
COPY package.json package-lock.json ./
# The lockfile names the kit's workspace (packages/resource-server), so npm ci needs its package.json; the server
# itself runs the kit's shared sources compiled into dist/server.
COPY packages/resource-server/package.json ./packages/resource-server/
# argon2 ships prebuilt binaries for linux x64/arm64 (glibc), so no install scripts and no compiler are needed.
# --omit=optional leaves out the embedded database (@electric-sql/pglite, knex-pglite) and the TypeScript loader
# (tsx), package.json's optionalDependencies: the image runs the compiled server against DATABASE_URL only, and
# without DATABASE_URL it stops with one line naming it (src/db/embedded-driver.ts).
RUN npm ci --omit=dev --omit=optional --no-audit --no-fund --ignore-scripts && npm cache clean --force
COPY bin ./bin
COPY views ./views
COPY --from=build /app/dist ./dist
RUN mkdir -p /app/data && chown node:node /app/data
# Numeric (the node user's uid and gid), so Kubernetes' runAsNonRoot can check it without a runAsUser of its own.
USER 1000:1000
EXPOSE 8080
# Healthy = ready: /readyz answers 200 once the database is reachable and no migration is pending (/healthz only says
# the process is up). The image has no curl: node's own fetch calls it.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s \
  CMD node -e "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/readyz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
CMD ["node", "bin/gatehouse.js", "serve"]
