# llmnet: `make` builds, `make test` runs every test, `make demo` runs the
# seed pipeline against the built-in mock upstream. Each target installs
# the missing Debian packages of the groups it needs first (scripts/deps.sh:
# `make` and `make demo` only the build and demo groups). `make install` installs
# under PREFIX (default /usr/local; DESTDIR honoured), `make uninstall`
# removes what it installed, `make deb` builds the Debian package.

BUILD ?= build
ASAN_BUILD ?= build-asan
JOBS ?= $(shell nproc)
PREFIX ?= /usr/local
DESTDIR ?=
MAKEFLAGS += --no-print-directory

.PHONY: all deps test-deps node-deps build test test-asan demo bench format format-check clean install uninstall deb \
	valgrind fuzz test-containers

all: build

deps:
	@./scripts/deps.sh build

# What only the tests need (redis-server, Chromium, promtool, haproxy, npm;
# lintian, dpkg-dev, man-db: the install test).
test-deps:
	@./scripts/deps.sh test

# The integration tests drive llmnet with the clients users run: openai,
# the Vercel AI SDK and LangChain (pinned in tests/integration).
node-deps: deps test-deps
	@[ tests/integration/node_modules/.package-lock.json -nt tests/integration/package-lock.json ] || \
	  (cd tests/integration && npm ci --no-audit --no-fund --loglevel=error)

build: deps
	@cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
	@cmake --build $(BUILD) -j $(JOBS)

test: build node-deps test-deps
	@cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The same suite built with AddressSanitizer and UndefinedBehaviorSanitizer.
test-asan: node-deps test-deps
	@cmake -S . -B $(ASAN_BUILD) -DCMAKE_BUILD_TYPE=Debug -DLLN_SANITIZE=ON >/dev/null
	@cmake --build $(ASAN_BUILD) -j $(JOBS)
	@cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$(CURDIR)/tests/lsan.supp \
	  ctest --output-on-failure -j $(JOBS)

# Unit tests, then llmnet and llmnet mock under traffic, all under valgrind.
valgrind: build
	@./scripts/deps.sh valgrind
	@./scripts/valgrind.sh $(BUILD)

# libFuzzer harnesses (clang); FUZZ_SECONDS per target.
FUZZ_SECONDS ?= 20
fuzz: deps
	@./scripts/deps.sh fuzz
	@./fuzz/run.sh $(FUZZ_SECONDS)

demo: build
	@./scripts/deps.sh demo
	@./scripts/demo.sh $(BUILD)/llmnet

# The container image (Dockerfile) and deploy/compose/compose.yaml on podman
# (or docker): replicas behind haproxy, a replica killed under load, the
# shared budget (tests/containers/run.sh).
test-containers:
	@./scripts/deps.sh containers
	@./tests/containers/run.sh

# llmnet vs the mock direct vs Portkey (bench/run.sh, docs/BENCHMARKS.md).
bench: build
	@./bench/run.sh

# The files cmake/install.cmake lists, under $(DESTDIR)$(PREFIX); the list of
# what was installed is $(BUILD)/install_manifest.txt.
install: build
	@DESTDIR="$(DESTDIR)" cmake --install $(BUILD) --prefix "$(PREFIX)"

# Removes exactly the files of $(BUILD)/install_manifest.txt (give the same
# DESTDIR as to make install), then llmnet's own directories left empty.
uninstall:
	@DESTDIR="$(DESTDIR)" ./packaging/uninstall.sh $(BUILD)/install_manifest.txt

# $(BUILD)/llmnet_<version>_<arch>.deb (packaging/deb.sh), checked by lintian
# when it is installed (make deps installs it).
deb: build
	@./scripts/deps.sh deb
	@deb=$$(./packaging/deb.sh $(BUILD) | tail -n 1) && echo "$$deb" && \
	  if command -v lintian >/dev/null 2>&1; then lintian --fail-on error --display-info "$$deb"; \
	  else echo "lintian is not installed: the package was not checked" >&2; fi

format:
	@clang-format -i src/*.c src/*/*.c src/*/*.h tests/unit/*.c fuzz/*.c

format-check:
	@clang-format --dry-run --Werror src/*.c src/*/*.c src/*/*.h tests/unit/*.c fuzz/*.c

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
