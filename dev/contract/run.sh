#!/usr/bin/env bash
# Schemathesis against a running local API: dev/contract/run.sh BASE_URL [quick|deep]
#
# quick (make test): a bounded number of examples per operation and a fixed seed, so that a run
#   is reproducible and fits CI (about a minute).
# deep (make fuzz-api): ten times the examples, more stateful scenarios, a new seed each run
#   (printed, so a failure can be replayed with CONTRACT_SEED=<seed>).
#
# Every check runs except two, for reasons of the design rather than of the implementation:
# - unsupported_method expects 405 for a method a path does not have. A function never sees
#   such a request: API Gateway and the local emulator route by method and path and answer 404
#   themselves (docs/api.md, "Errors").
# - positive_data_acceptance expects 2xx for every schema-valid body. The rules for new
#   passwords (not one of 17,950 common ones, not the email), emails (IDNA, no IP literals) and
#   names (a visible character) are not expressible in JSON Schema, so a schema-valid body can
#   rightly be a 400 validation_failed. The opposite direction, negative_data_rejection (a
#   schema-invalid body must be refused), does run.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BASE_URL=${1:?usage: dev/contract/run.sh BASE_URL [quick|deep]}
DEPTH=${2:-quick}
case "$DEPTH" in
  quick) EXAMPLES=25; SEED=${CONTRACT_SEED:-20261202} ;;
  deep) EXAMPLES=250; SEED=${CONTRACT_SEED:-$RANDOM$RANDOM} ;;
  *) echo "usage: dev/contract/run.sh BASE_URL [quick|deep]" >&2; exit 2 ;;
esac

# Run from .local/ (git-ignored): schemathesis keeps a cache in its working directory, and
# `cargo lambda watch` restarts every function when a file in the project changes. No bytecode
# files next to the hooks for the same reason.
WORK="$ROOT/.local/contract"
mkdir -p "$WORK"
cd "$WORK"
echo "==> schemathesis ($DEPTH: $EXAMPLES examples per operation, seed $SEED) against $BASE_URL"
CONTRACT_BASE_URL="$BASE_URL" PYTHONPATH="$ROOT/dev/contract" SCHEMATHESIS_HOOKS=hooks \
  PYTHONDONTWRITEBYTECODE=1 \
  "$ROOT/.venv/bin/schemathesis" --config-file "$ROOT/dev/contract/schemathesis.toml" \
  run "$ROOT/docs/openapi.yaml" \
  --url "$BASE_URL" \
  --checks all --exclude-checks unsupported_method,positive_data_acceptance \
  --max-examples "$EXAMPLES" --seed "$SEED" --workers 2 --request-timeout 60 \
  --report junit --report-dir "$WORK" --output-truncate false
