# syntax=docker/dockerfile:1
# Multi-stage build: the daemon and every built-in plugin, in a small image
# that runs as a non-root user. Plugin digests are locked at build time
# (/etc/switchd/plugins.lock.hcl), so the daemon refuses any plugin binary
# that was swapped after the build.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
# Plugins are built at the path they have in the final image, and locked
# there, so the lock file written here is valid as it is at run time.
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/switchd ./switchd/cmd/switchd && \
    for p in $(ls plugins/*/main.go | xargs -n1 dirname | xargs -n1 basename); do \
      CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /usr/lib/switchd/plugins/$p ./plugins/$p || exit 1; \
    done && \
    mkdir -p /out/etc && \
    /out/switchd plugins lock --plugin-dir /usr/lib/switchd/plugins --lock-file /out/etc/plugins.lock.hcl

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/* && \
    groupadd --system --gid 10001 switchd && \
    useradd --system --uid 10001 --gid switchd --home-dir /var/lib/switchd --shell /usr/sbin/nologin switchd && \
    mkdir -p /var/lib/switchd /etc/switchd && chown switchd:switchd /var/lib/switchd
COPY --from=build /out/switchd /usr/local/bin/switchd
COPY --from=build /usr/lib/switchd/plugins/ /usr/lib/switchd/plugins/
COPY --from=build /out/etc/plugins.lock.hcl /etc/switchd/plugins.lock.hcl
COPY examples/quickstart/ /etc/switchd/network/
USER switchd:switchd
WORKDIR /var/lib/switchd
ENV SWITCHD_DATA_DIR=/var/lib/switchd \
    SWITCHD_PLUGIN_DIR=/usr/lib/switchd/plugins \
    SWITCHD_CONFIG=/etc/switchd/network \
    SWITCHD_LOCK_FILE=/etc/switchd/plugins.lock.hcl \
    SWITCHD_API_ADDR=0.0.0.0:8080 \
    SWITCHD_ADMIN_ADDR=0.0.0.0:8081 \
    SWITCHD_LOG_FORMAT=json
EXPOSE 8080 8081
VOLUME ["/var/lib/switchd"]
ENTRYPOINT ["switchd", "serve"]
