# Galaxy: `make up` runs the whole system, `make test` runs every test.
PNPM_VERSION := 12.4.2
SHELL := /bin/bash

.PHONY: up build test test-unit install setup typecheck bench engines help fuzz sdk

help:
	@echo "make up     install what is missing, build, migrate, run every service (Ctrl-C stops them)"
	@echo "make build  compile every service, the CLI and setup to dist/<name>/main.js"
	@echo "make test   install what is missing, typecheck, run the whole suite"
	@echo "make test-unit  the unit lane alone: pure tests, no engine needed (vitest project unit)"
	@echo "make setup  database, roles, schemas, migrations and streams only"
	@echo "make bench  every performance target on the compiled services, each beside a bare baseline (docs/benchmarks.md; BENCH_ONLY=1,2 for some)"
	@echo "make fuzz   fuzz the whole system from /openapi.json: no 5xx, every error documented (docs/errors.md)"
	@echo "make sdk    regenerate libs/sdk (openapi.json and its types) from the gateway's routes, and build it"
	@echo "make fault  the fault suite: engines of its own stopped and killed under load (docs/reliability.md)"
	@echo "make console build the web console the gateway serves at /console (docs/console.md)"

install:
	@if ! command -v pnpm >/dev/null || [ "$$(pnpm --version)" != "$(PNPM_VERSION)" ]; then \
		echo "installing pnpm $(PNPM_VERSION)"; npm install -g pnpm@$(PNPM_VERSION) >/dev/null; fi
	@pnpm install --frozen-lockfile --reporter=silent

setup: install
	@node --import tsx scripts/setup.ts

# up.ts builds first (dist/), then runs the compiled services under its supervisor.
up: install console
	@node --import tsx scripts/up.ts

build: install console
	@node --import tsx scripts/build.ts

typecheck: install
	@pnpm exec tsc -p tsconfig.json --noEmit
	@pnpm --filter @galaxy/console run typecheck

test: install browser-deps typecheck
	@status=0; pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json || status=$$?; \
		node scripts/test-summary.mjs .vitest-results.json; exit $$status

# The unit lane: files named *.test.ts in libs/, services/, test/build/ and test/docs/ (engine tests end in
# .int.test.ts; test/e2e and test/ops boot the whole system). See vitest.config.ts.
test-unit: install
	@pnpm exec vitest run --project unit

fuzz: install
	@pnpm exec vitest run --config test/fuzz/vitest.config.ts

# bench/run.ts builds dist/ as `make build` does (the web console is not needed) and runs Galaxy's processes.
bench: install
	@node --import tsx bench/run.ts

# The console (docs/console.md): `make console` builds services/console/dist, which the gateway
# serves at /console; `make browser-deps` installs the Chromium its browser tests drive.
.PHONY: console browser-deps
console: install
	@pnpm --filter @galaxy/console run build

browser-deps:
	@if [ ! -x /usr/bin/chromium ]; then \
		echo "installing chromium (Debian) for the console's browser tests"; \
		sudo=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		$$sudo apt-get update -qq && $$sudo apt-get install -y -qq chromium >/dev/null; fi

# The fault suite (docs/reliability.md): Galaxy's compiled services on engines of its own,
# stopped and killed under load.
.PHONY: fault
fault: build
	@pnpm exec vitest run --config test/fault/vitest.config.ts

sdk: install
	@pnpm --filter @galaxy/sdk generate
	@pnpm --filter @galaxy/sdk build
