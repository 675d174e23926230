# deploy/compose/redis.Dockerfile: redis-server from Debian for hosts with no
# image registry (the test builds it as localhost/llmnet-redis; elsewhere use
# the official redis image).
FROM debian:bookworm-slim
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server >/dev/null \
 && rm -rf /var/lib/apt/lists/*
USER redis
CMD ["redis-server", "--save", "", "--appendonly", "no", "--protected-mode", "no", "--bind", "0.0.0.0"]
