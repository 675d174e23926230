# llmnet's container image: a build stage compiles only the binary
# (-DLLN_TESTS=OFF: no cmocka, no Node), a runtime stage holds it with the
# runtime libraries, curl for the HEALTHCHECK, and a non-root user.
#   podman build --format docker -t llmnet .      (--format docker keeps HEALTHCHECK)
#   docker build -t llmnet .
#   podman run -p 8080:8080 -v ./my.json:/etc/llmnet/llmnet.json:ro llmnet
# The composition is read from /etc/llmnet/llmnet.json (mount yours there);
# the example compositions and mock rules are under /usr/share/llmnet/examples.
# llmnet listens on 0.0.0.0:8080 inside the container. With no registry
# reachable, deploy/base/build-base.sh makes the debian:bookworm-slim base
# from Debian's mirror. deploy/compose/ runs replicas behind haproxy.

FROM debian:bookworm-slim AS build
# node-llhttp ships the HTTP parser as C sources; its package depends on
# nodejs, which the build does not need: unpack it without its dependencies.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      gcc libc6-dev make cmake pkg-config gzip \
      libuv1-dev libcurl4-openssl-dev libcjson-dev libhiredis-dev libwebsockets-dev >/dev/null \
 && cd /tmp && apt-get download -qq node-llhttp && dpkg-deb -x node-llhttp_*.deb / \
 && rm -rf /var/lib/apt/lists/* /tmp/*.deb
WORKDIR /src
ARG LLN_GIT_REVISION=""
COPY CMakeLists.txt ./
COPY cmake cmake
COPY src src
COPY examples examples
COPY packaging packaging
COPY docs docs
COPY README.md ./
RUN cmake -S . -B /build -DCMAKE_BUILD_TYPE=Release -DLLN_TESTS=OFF \
      -DLLN_GIT_REVISION="${LLN_GIT_REVISION}" >/dev/null \
 && cmake --build /build -j "$(nproc)" --target llmnet \
 && strip /build/llmnet && /build/llmnet --version

FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      libuv1 libcurl4 libcjson1 libhiredis0.14 libwebsockets17 ca-certificates curl >/dev/null \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --home-dir /nonexistent --no-create-home \
      --shell /usr/sbin/nologin llmnet \
 && mkdir -p /etc/llmnet
COPY --from=build /build/llmnet /usr/bin/llmnet
COPY examples /usr/share/llmnet/examples
USER llmnet
# The CMD's flags say where to listen; the environment says the same for a
# CMD of your own (LLMNET_BIND_ADDR / LLMNET_PORT, as --bind-addr / --port).
ENV LLMNET_BIND_ADDR=0.0.0.0 LLMNET_PORT=8080
EXPOSE 8080
# SIGTERM drains: in-flight requests finish (server.shutdown-grace), then exit.
STOPSIGNAL SIGTERM
# Liveness: /health answers 200 while the process serves (readiness, /ready,
# is for load balancers: haproxy checks it, see deploy/haproxy/haproxy.cfg).
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS -o /dev/null "http://127.0.0.1:${LLMNET_PORT:-8080}/health" || exit 1
ENTRYPOINT ["/usr/bin/llmnet"]
CMD ["/etc/llmnet/llmnet.json", "--bind-addr", "0.0.0.0", "--port", "8080"]
