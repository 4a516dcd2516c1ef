#!/usr/bin/env bash
# `make load-compare`: the same load mix (dev/load) on each local DynamoDB, one after the other,
# each on a fresh stack of its own (DynamoDB Local, then moto), then both reports side by side:
# requests per second, p50/p95/p99 per route, every non-2xx, the table checked, and the CPU each
# process used while measured (what limits the run). Exit 1 if either run broke a promise.
#
#   LOAD_SECONDS=60 LOAD_USERS=24 LOAD_WARMUP_SECONDS=10 [LOAD_RELEASE=1] dev/load/compare.sh
#
# LOAD_RELEASE=1 serves release builds of the functions (what Lambda runs) instead of debug ones.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"
cd "$ROOT"

BACKENDS=${LOAD_BACKENDS:-dynamodb-local moto}
echo "==> building the functions${LOAD_RELEASE:+ (release: LOAD_RELEASE=1)}"
cargo build --workspace --bins ${LOAD_RELEASE:+--release}
verdict=0
reports=()
for backend in $BACKENDS; do
  echo
  echo "==> $backend: a fresh stack"
  LOCAL_DYNAMODB=$backend
  table="accounts-load-$backend"
  start_load_stack "$table"
  # STARTED_PIDS: the DynamoDB server, moto, the API, the mail poller (start_load_stack's order).
  pids="dynamodb=${STARTED_PIDS[0]} moto=${STARTED_PIDS[1]} api=${STARTED_PIDS[2]} poller=${STARTED_PIDS[3]}"
  before=$(ls -d "$STATE_DIR"/load/*/ 2>/dev/null | wc -l)
  PORT=$LOAD_API_PORT DDB_PORT=$LOAD_DDB_PORT TABLE=$table LOAD_CPU_PIDS="$pids" dev/load/run.sh || verdict=1
  reports+=("$backend:$(ls -td "$STATE_DIR"/load/*/ | head -1)report.md")
  [ "$(ls -d "$STATE_DIR"/load/*/ | wc -l)" -gt "$before" ] || { echo "error: no report for $backend" >&2; verdict=1; }
  stop_started
done

echo
echo "==> side by side"
for entry in "${reports[@]}"; do
  echo
  echo "### ${entry%%:*}"
  sed -n '/^\*\*/,$p' "${entry#*:}" | grep -v '^report:'
done
exit $verdict
