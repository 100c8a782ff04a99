# Galaxy: `make up` runs the whole system, `make test` runs every test.
PNPM_VERSION := 12.4.2
SHELL := /bin/bash

.PHONY: up test install setup typecheck bench engines help sdk

help:
	@echo "make up     install what is missing, migrate, run every service (Ctrl-C stops them)"
	@echo "make test   install what is missing, typecheck, run the whole suite"
	@echo "make setup  database, roles, schemas, migrations and streams only"
	@echo "make bench  run the benchmarks, each beside a bare baseline (docs/benchmarks.md)"
	@echo "make sdk    regenerate libs/sdk (openapi.json and its types) from the gateway's routes, and build it"

install:
	@if ! command -v pnpm >/dev/null || [ "$$(pnpm --version)" != "$(PNPM_VERSION)" ]; then \
		echo "installing pnpm $(PNPM_VERSION)"; npm install -g pnpm@$(PNPM_VERSION) >/dev/null; fi
	@pnpm install --frozen-lockfile --reporter=silent

setup: install
	@node --import tsx scripts/setup.ts

up: install
	@node --import tsx scripts/up.ts

typecheck: install
	@pnpm exec tsc -p tsconfig.json --noEmit

test: install typecheck
	@status=0; pnpm exec vitest run --reporter=default --reporter=json --outputFile.json=.vitest-results.json || status=$$?; \
		node scripts/test-summary.mjs .vitest-results.json; exit $$status

bench: install
	@node --import tsx bench/run.ts

sdk: install
	@pnpm --filter @galaxy/sdk generate
	@pnpm --filter @galaxy/sdk build
