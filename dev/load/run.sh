#!/usr/bin/env bash
# `make load`: the load mix (dev/load/locustfile.py, Locust) against the API `make dev` serves on
# PORT for LOAD_SECONDS, then dev/load/report.py: throughput, p50/p95/p99 per route, every
# non-2xx by code, and the table checked for lost or duplicated accounts. Exit 1 if a promise broke.
#
#   PORT=9000 DDB_PORT=8000 TABLE=accounts-local LOAD_SECONDS=60 LOAD_USERS=24 \
#     LOAD_WARMUP_SECONDS=10 dev/load/run.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
PY="$ROOT/.venv/bin/python"
PORT=${PORT:-9000}
DDB_PORT=${DDB_PORT:-8000}
TABLE=${TABLE:-accounts-local}
LOAD_SECONDS=${LOAD_SECONDS:-60}
LOAD_USERS=${LOAD_USERS:-24}
LOAD_WARMUP_SECONDS=${LOAD_WARMUP_SECONDS:-10}
HOST="http://127.0.0.1:$PORT"

if ! "$PY" -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2)' "$PORT" 2>/dev/null; then
  echo "error: nothing answers on $HOST: start the API first (make dev, in another terminal; PORT=$PORT)" >&2
  exit 1
fi

RUN=$(date -u +%Y%m%d-%H%M%S)
OUT="$ROOT/.local/load/$RUN"
mkdir -p "$OUT"
# locust RUN_ID FOLDER SECONDS: the mix, headless. Its own exit code is 1 when any request
# failed; the report decides, with the table.
locust() {
  mkdir -p "$2"
  LOAD_RUN="$1" LOAD_OUT="$2" "$ROOT/.venv/bin/locust" -f "$ROOT/dev/load/locustfile.py" \
    --headless --host "$HOST" --users "$LOAD_USERS" --spawn-rate "$LOAD_USERS" \
    --run-time "${3}s" --stop-timeout 10 --csv "$2/locust" --only-summary \
    --loglevel WARNING --logfile "$2/locust.log" >/dev/null 2>&1 || true
}
# The emulator starts a function instance (a `cargo run`) on its first request, one at a time:
# a warm-up run, not measured, brings every route to the instances the mix needs, as a
# deployed API that has served traffic has them.
if [ "$LOAD_WARMUP_SECONDS" -gt 0 ]; then
  echo "==> warming up: the same mix for $LOAD_WARMUP_SECONDS s, not measured"
  locust "warmup-$RUN" "$OUT/warmup" "$LOAD_WARMUP_SECONDS"
fi
echo "==> load: $LOAD_USERS simulated people for $LOAD_SECONDS s against $HOST (Locust; log in $OUT/locust.log)"
# LOAD_CPU_PIDS="dynamodb=PID moto=PID api=PID": the CPU each group used while measured.
[ -z "${LOAD_CPU_PIDS:-}" ] || "$PY" "$ROOT/dev/load/cpu.py" snapshot "$OUT/cpu-before.json" $LOAD_CPU_PIDS
locust "$RUN" "$OUT" "$LOAD_SECONDS"
if [ -n "${LOAD_CPU_PIDS:-}" ]; then
  "$PY" "$ROOT/dev/load/cpu.py" snapshot "$OUT/cpu-after.json" $LOAD_CPU_PIDS
  "$PY" "$ROOT/dev/load/cpu.py" report "$OUT/cpu-before.json" "$OUT/cpu-after.json" >"$OUT/cpu.txt"
fi
[ -f "$OUT/answers.json" ] || { echo "error: Locust did not finish; see $OUT/locust.log" >&2; exit 1; }
exec "$PY" "$ROOT/dev/load/report.py" "$OUT" --endpoint "http://127.0.0.1:$DDB_PORT" --table "$TABLE" \
  --host "$HOST" --seconds "$LOAD_SECONDS" --users "$LOAD_USERS"
