# The few verbs this project needs. `make dev` and `make test` install what they use themselves.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv

# `make route PATH=/email/verify` names the route's path, but PATH given on the command line would
# also replace the program search path of every recipe: keep the route's, restore the search path
# from make's own environment.
ifeq ($(origin PATH),command line)
ROUTE_PATH := $(PATH)
override PATH := $(or $(shell tr '\0' '\n' < /proc/$$PPID/environ 2>/dev/null | sed -n 's/^PATH=//p'),/usr/local/bin:/usr/bin:/bin)
endif
PORT ?= 9000
DDB_PORT ?= 8000
MOTO_PORT ?= $(shell echo $$(( $(DDB_PORT) + 1 )))
ARM_TARGET := aarch64-unknown-linux-gnu
CARGO_DENY_VERSION := 0.20.2

.PHONY: help venv dev stop mail rotate-key test fuzz-api lint audit fmt docs route build deploy smoke load load-compare bench clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}' \
	  | sed -e 's/[$$](PORT)/$(PORT)/g' -e 's/[$$](DDB_PORT)/$(DDB_PORT)/g' -e 's/[$$](MOTO_PORT)/$(MOTO_PORT)/g'

# The project-local Python environment with the pinned tools (cargo-lambda, moto, SAM CLI,
# cfn-lint), rebuilt only when the pins change.
$(VENV)/.installed: dev/requirements.txt dev/constraints.txt
	@echo "==> installing the pinned tools into $(VENV) (first run only: a few minutes, about 0.85 GB)"
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --disable-pip-version-check --progress-bar off \
	  -r dev/requirements.txt -c dev/constraints.txt | awk '/^(Collecting|Successfully)/'
	touch $@

venv: $(VENV)/.installed ## Create/refresh the local tool environment (.venv)

dev: venv ## Run the API on 127.0.0.1:$(PORT), DynamoDB on $(DDB_PORT), SQS/SES on $(MOTO_PORT), the OpenAPI document on PORT+1, the web client on localhost:PORT+2; Ctrl-C stops it
	PORT=$(PORT) DDB_PORT=$(DDB_PORT) MOTO_PORT=$(MOTO_PORT) dev/run-local.sh

web-types: ## Regenerate web/src/api-types.d.ts from docs/openapi.yaml (openapi-typescript), then type-check the web client
	cd web && npm ci --no-audit --no-fund --silent && npm run -s types && npm run -s check

stop: ## Stop a make dev running in the background on $(PORT) (exits 0)
	@if [ -f .local/dev-$(PORT).pid ]; then kill -TERM "$$(cat .local/dev-$(PORT).pid)"; \
	  else echo "no make dev is running on port $(PORT)" >&2; exit 1; fi

rotate-key: venv ## Move the access-token keyset one step: STEP=init|stage|promote|retire|status [SECRET=<arn> STACK=<name>] [ALG=RS256] [FORCE=1]
	cd dev && ../$(VENV)/bin/python rotate_key.py "$(or $(STEP),status)" --alg "$(or $(ALG),ES256)" \
	  $(if $(SECRET),--secret-id "$(SECRET)" $(if $(STACK),--stack "$(STACK)"),--file "$(CURDIR)/.local/token-keys-$(or $(ALG),ES256).json") \
	  $(if $(FORCE),--force)

mail: venv ## Show the mail the local SES has sent (make dev's moto on $(MOTO_PORT)); TO=<address> for one recipient
	$(VENV)/bin/python dev/mail.py --endpoint http://127.0.0.1:$(MOTO_PORT) $(if $(TO),--to "$(TO)")

test: venv ## Run every test: unit, handler, concurrency, end-to-end, contract (schemathesis), template
	dev/run-tests.sh

fuzz-api: venv ## Deep schemathesis run (10x the examples of make test, a new seed) on a local stack
	dev/fuzz-api.sh

lint: ## rustfmt, clippy (warnings are errors) and shared/'s layering (no import cycle)
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets --all-features -- -D warnings
	python3 dev/check_layers.py

# cargo-deny is not on PyPI in a current version: built once (about 4 minutes) into .venv/bin.
$(VENV)/bin/cargo-deny:
	@echo "==> building cargo-deny $(CARGO_DENY_VERSION) into $(VENV)/bin (first run only)"
	cargo install cargo-deny --locked --version $(CARGO_DENY_VERSION) --root $(VENV) --quiet

audit: $(VENV)/bin/cargo-deny ## Supply chain (deny.toml): licences, bans, sources; advisories when reachable
	$(VENV)/bin/cargo-deny --log-level error check licenses bans sources
	@# The advisory database comes from GitHub; without network this says so and passes.
	@if timeout 120 $(VENV)/bin/cargo-deny --log-level error fetch db >/dev/null 2>&1; then \
	  $(VENV)/bin/cargo-deny --offline --log-level error check advisories; \
	else echo "warning: the RustSec advisory database could not be fetched: advisories not checked" >&2; fi

fmt: ## Format the code
	cargo fmt --all

route: venv ## New route: make route NAME=verify-email METHOD=POST PATH=/email/verify [AUTH=none] [SUMMARY="..."]
	@test -n "$(NAME)" -a -n "$(METHOD)" -a -n "$(ROUTE_PATH)" || { \
	  echo "usage: make route NAME=<kebab-name> METHOD=<GET|POST|PUT|PATCH|DELETE> PATH=</path> [AUTH=bearer|none] [SUMMARY=\"...\"]" >&2; exit 2; }
	$(VENV)/bin/python dev/new_route.py --name "$(NAME)" --method "$(METHOD)" --path "$(ROUTE_PATH)" \
	  --auth "$(or $(AUTH),bearer)" $(if $(SUMMARY),--summary "$(SUMMARY)")
	$(VENV)/bin/python dev/make_events.py
	$(VENV)/bin/python dev/route_table.py

docs: venv ## Regenerate what derives from the template, the OpenAPI document, the config and the test records: events/, docs/ tables
	$(VENV)/bin/python dev/make_events.py
	$(VENV)/bin/python dev/route_table.py
	$(VENV)/bin/python dev/config_table.py
	@if ls target/handler-records/*.tsv >/dev/null 2>&1; then cd dev && ../$(VENV)/bin/python capacity.py; \
	  else echo "docs/scaling.md's capacity table needs the handler tests' records: run make test, then make docs"; fi

# SAM CLI reports usage to AWS unless told not to; these targets tell it not to.
SAM := SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 $(VENV)/bin/sam
STAGE ?= dev

build: venv ## sam build: one arm64 bootstrap binary per function in .aws-sam/build (cold: ~13 min on 2 cores)
	@rustup target list --installed 2>/dev/null | grep -qx $(ARM_TARGET) || { \
	  echo "error: the Rust target $(ARM_TARGET) is not installed; run: rustup target add $(ARM_TARGET)" >&2; \
	  exit 1; }
	@echo "==> sam build: $$(grep -c 'BuildMethod: rust-cargolambda' template.yaml) functions, each a release build for arm64."
	@echo "    Cold, on 2 cores: ~4.5 min of shared dependencies, then ~50 s per function (~13 min); SAM prints each function as it starts."
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" AWS_DEFAULT_REGION=$${AWS_DEFAULT_REGION:-us-east-1} \
	  $(SAM) build --beta-features

deploy: build ## sam deploy --config-env STAGE (STAGE=dev|staging|prod from samconfig.toml; dev by default), no prompts but prod's change set; PARAMS="MailFrom=... AlarmEmail=..." adds parameters
	$(SAM) deploy --config-env $(STAGE) \
	  $(if $(PARAMS),--parameter-overrides "$$($(VENV)/bin/python dev/stage_params.py $(STAGE)) $(PARAMS)")

smoke: venv ## After a deploy: register -> login -> profile -> refresh -> logout -> delete against URL=<ApiUrl> with a throwaway address (leaves nothing behind)
	@test -n "$(URL)" || { echo "usage: make smoke URL=https://<api-id>.execute-api.<region>.amazonaws.com" >&2; exit 2; }
	$(VENV)/bin/python dev/smoke.py "$(URL)"

load: venv ## A realistic mix (Locust) against make dev on $(PORT): LOAD_WARMUP_SECONDS (10), then LOAD_SECONDS (60) with LOAD_USERS (24); p50/p95/p99 per route, every non-2xx, the table checked
	PORT=$(PORT) DDB_PORT=$(DDB_PORT) $(foreach v,LOAD_SECONDS LOAD_USERS LOAD_WARMUP_SECONDS,$(if $($(v)),$(v)=$($(v)))) \
	  dev/load/run.sh

load-compare: venv ## The load mix on DynamoDB Local, then on moto, each on a fresh stack of its own; both reports side by side, with the CPU of each process [LOAD_RELEASE=1]
	$(foreach v,LOAD_SECONDS LOAD_USERS LOAD_WARMUP_SECONDS LOAD_RELEASE,$(if $($(v)),$(v)=$($(v)))) dev/load/compare.sh

bench: venv ## Cold start, latency, memory and size per function, Rust vs a Node twin (docs/benchmarks.md)
	dev/bench.sh

clean: ## Remove build outputs and the local tool environment
	cargo clean
	rm -rf $(VENV) .aws-sam .local
