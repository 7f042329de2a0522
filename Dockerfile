# Container images of familybridge: one builder stage compiles the whole workspace once, then each
# image is a small runtime stage holding one binary, run as an unprivileged user.
#
#   docker build --target court-registry  -t familybridge/court-registry  .
#   docker build --target cms-calculation -t familybridge/cms-calculation .
#   docker build --target referral-hub    -t familybridge/referral-hub    .
#   docker build --target familybridge    -t familybridge/familybridge    .   (the command and scenarios)
#   docker build --target otlp-sink       -t familybridge/otlp-sink       .   (the project's OTLP receiver)
#
# docker-compose.yml builds them for you. The base images are build arguments, so that a machine with
# no registry can build from images it made itself (tests/compose.rs does, with deploy/offline/);
# elsewhere the public ones below are used. No protoc is needed: the protos compile with protox.

ARG BUILDER_IMAGE=docker.io/library/rust:1-slim-bookworm
ARG RUNTIME_IMAGE=docker.io/library/debian:bookworm-slim

# ---- builder: every binary of the workspace, in one cargo invocation ---------------------------
FROM ${BUILDER_IMAGE} AS builder
# The cargo profile: `release` for images you deploy; the tests pass `quick` (Cargo.toml), which
# builds in a fraction of the time. Any profile but `dev` (whose folder is target/debug).
ARG PROFILE=release
WORKDIR /build
COPY . .
# Every binary the workspace has (`--bins`), so that this file needs no change when one is added;
# they are copied out of target/ in the same step because a build cache may be mounted there (the
# compose test mounts one). Cargo judges such a cache by file times, and a file whose content
# changed can carry an older time than the build (another checkout, an edit made during the last
# build): so the files whose content differs from the build the cache holds are touched first —
# all of them if it records none — and cargo rebuilds exactly what changed.
RUN find . -path ./target -prune -o -type f -print | sort | xargs -d '\n' sha256sum > /tmp/sources \
    && if [ -f target/sources.sha256 ]; then \
        diff target/sources.sha256 /tmp/sources | sed -n 's/^> [0-9a-f]*  //p' \
            | xargs -r -d '\n' touch; \
    else \
        cut -c67- /tmp/sources | xargs -r -d '\n' touch; \
    fi \
    && cargo build --locked --workspace --bins --profile "${PROFILE}" \
    && cp /tmp/sources target/sources.sha256 \
    && mkdir -p /out \
    && find "target/${PROFILE}" -maxdepth 1 -type f -perm -u+x -exec cp {} /out/ \; \
    && ls -l /out

# ---- runtime: what every image shares ------------------------------------------------------------
FROM ${RUNTIME_IMAGE} AS runtime
# A fixed numeric user, so that Kubernetes' runAsNonRoot can check it without a passwd lookup, and
# a data folder it owns for the embedded SQLite default (with PostgreSQL nothing is written).
RUN groupadd --gid 10001 familybridge \
    && useradd --uid 10001 --gid 10001 --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin familybridge \
    && mkdir -p /app/data /certs \
    && chown 10001:10001 /app/data /certs
WORKDIR /app
USER 10001:10001

# ---- the three agency services: gRPC on 0.0.0.0, each on its own port -----------------------------
FROM runtime AS court-registry
COPY --from=builder /out/court-registry /usr/local/bin/court-registry
ENV LISTEN_ADDR=0.0.0.0:50051
EXPOSE 50051
ENTRYPOINT ["court-registry"]

FROM runtime AS cms-calculation
COPY --from=builder /out/cms-calculation /usr/local/bin/cms-calculation
ENV LISTEN_ADDR=0.0.0.0:50052
EXPOSE 50052
ENTRYPOINT ["cms-calculation"]

FROM runtime AS referral-hub
COPY --from=builder /out/referral-hub /usr/local/bin/referral-hub
ENV LISTEN_ADDR=0.0.0.0:50053
EXPOSE 50053
ENTRYPOINT ["referral-hub"]

# ---- the project's OTLP receiver: writes every span it receives as a JSON line ----------------------
FROM runtime AS otlp-sink
COPY --from=builder /out/otlp-sink /usr/local/bin/otlp-sink
EXPOSE 4317
ENTRYPOINT ["otlp-sink"]

# ---- the familybridge command with the shipped scenarios (the default target) ----------------------
FROM runtime AS familybridge
COPY --from=builder /out/familybridge /usr/local/bin/familybridge
COPY scenarios/ /app/scenarios/
# No default command: name one, e.g. `run scenarios/automatic-exchange.toml --connect …`.
ENTRYPOINT ["familybridge"]
