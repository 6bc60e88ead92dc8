# syntax=docker/dockerfile:1
#
# inboxkit-mock in a container: one static (musl) binary on distroless/static, non-root.
#
#   docker build -t inboxkit-mock .                        # the mock (default target)
#   docker build --target consumer -t inboxkit-consumer .  # + the example correct consumer
#   docker run --rm -p 8025:8025 inboxkit-mock             # serve on 0.0.0.0:8025
#
# The image has no shell and no curl: its HEALTHCHECK is the binary's own `health` subcommand.

ARG RUST_VERSION=1

FROM rust:${RUST_VERSION}-bookworm AS builder
# musl-tools (musl-gcc) compiles the C parts (aws-lc for rustls, mimalloc) and links statically;
# cmake is aws-lc-sys's fallback builder.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends musl-tools cmake \
    && rm -rf /var/lib/apt/lists/*
ARG TARGETARCH
# Docker's architecture names to Rust's musl targets (amd64 and arm64 images).
RUN case "${TARGETARCH:-amd64}" in \
        amd64) echo x86_64-unknown-linux-musl > /rust-target ;; \
        arm64) echo aarch64-unknown-linux-musl > /rust-target ;; \
        *) echo "unsupported architecture: ${TARGETARCH}" >&2; exit 1 ;; \
    esac \
    && rustup target add "$(cat /rust-target)"
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY examples ./examples
COPY benches ./benches
ENV CARGO_PROFILE_RELEASE_STRIP=symbols
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    target="$(cat /rust-target)" \
    && cargo build --locked --release --target "$target" \
        --bin inboxkit-mock --example consumer_correct \
    && mkdir -p /out \
    && cp "target/$target/release/inboxkit-mock" /out/ \
    && cp "target/$target/release/examples/consumer_correct" /out/

# The mock: ~17.5 MB (the static binary is 15.4 MB; distroless/static, about 2 MB, is CA
# certificates, tzdata and /etc/passwd).
FROM gcr.io/distroless/static-debian12:nonroot AS runtime
COPY --from=builder /out/inboxkit-mock /usr/local/bin/inboxkit-mock
# 65532 is distroless's `nonroot`; numeric, so `runAsNonRoot` can check it.
USER 65532:65532
EXPOSE 8025
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD ["inboxkit-mock", "health"]
ENTRYPOINT ["inboxkit-mock"]
CMD ["serve", "--bind", "0.0.0.0"]

# The example correct consumer (examples/consumer_correct.rs) listens on 127.0.0.1:9000, so
# docker-compose.yml runs it in the mock's network namespace. The mock binary stays in the
# image as its health probe.
FROM runtime AS consumer
COPY --from=builder /out/consumer_correct /usr/local/bin/consumer_correct
EXPOSE 9000
HEALTHCHECK --interval=5s --timeout=3s --start-period=5s --retries=5 \
    CMD ["inboxkit-mock", "health", "--url", "http://127.0.0.1:9000/processed"]
ENTRYPOINT ["consumer_correct"]
CMD ["--port", "9000"]

# The default target: `docker build .` gives the mock.
FROM runtime
