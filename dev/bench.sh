#!/usr/bin/env bash
# `make bench`: what Lambda bills and users feel (docs/benchmarks.md), in one run:
#   1. the release binaries, each run as Lambda runs it by a local Runtime API emulator
#      (dev/lambda_bench.py): init, first and second invocation, warm latency, peak memory,
#      size; interleaved with the Node.js twin (bench/node-twin), with Rust/Node ratios;
#   2. password hashing in one process: hash time and peak memory over 200 sequential and 20
#      concurrent hashes (shared/examples/argon2_memory.rs);
#   3. every route's handler in process, and the login timing check (bench/routes/examples/routes.rs).
# BENCH_QUICK=1 runs fewer processes and invocations (a smoke run, not figures to quote).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

PROCESSES=20 WARM=200 WARM_ARGON2=30
if [ "${BENCH_QUICK:-}" = 1 ]; then PROCESSES=3 WARM=20 WARM_ARGON2=5; fi

echo "==> release builds (functions, benchmarks)"
cargo build --release --workspace --bins
cargo build --release -p shared --example argon2_memory
cargo build --release -p route-bench --example routes

echo "==> the Node.js twin (npm ci from its lockfile, then the esbuild bundle)"
command -v node >/dev/null || { echo "error: make bench needs Node.js 20+ (node) for the twin" >&2; exit 1; }
# With install scripts: argon2's prebuilt addon crashes Node 20 here (a segmentation fault on
# load), and its install script builds it from source instead (node-gyp: python3, make, g++;
# about 7 s); esbuild's checks its platform binary. Versions and hashes: package-lock.json.
(cd bench/node-twin && npm ci --no-audit --no-fund --silent && node build.mjs)

DDB_PORT=$(free_port)
MOTO_PORT=$(free_port)
TABLE="accounts-bench-$(date +%s)"
start_aws "$DDB_PORT" "$MOTO_PORT"
create_table "$DDB_PORT" "$MOTO_PORT" "$TABLE" >/dev/null
token_keys ES256 >/dev/null  # the local keyset dev/local.env names, made on first use
echo "$(nproc) cores: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs); $(date -u +%F)"
echo "rustc $(rustc --version | cut -d' ' -f2), node $(node --version)"

echo
echo "==> password hashing in one process (200 sequential hash+verify pairs, then 20 concurrent)"
target/release/examples/argon2_memory 200 20

echo
echo "==> Lambda, emulated: Rust and the Node twin, interleaved"
OTHERS=$(cd functions && ls | grep -vxE 'register|login|profile' | paste -sd, -)
"$PY" dev/lambda_bench.py --ddb "http://127.0.0.1:$DDB_PORT" --aws "http://127.0.0.1:$MOTO_PORT" --table "$TABLE" \
  --processes "$PROCESSES" --warm "$WARM" --warm-argon2 "$WARM_ARGON2" \
  --init-only "$OTHERS" --json "$STATE_DIR/lambda-bench.json"

echo
echo "==> every route in process, and the login timing check"
set -a
# shellcheck source=local.env
source dev/local.env
set +a
export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DDB_PORT" TABLE_NAME="$TABLE" RUST_LOG=warn
export AWS_ENDPOINT_URL_SQS="http://127.0.0.1:$MOTO_PORT" AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$MOTO_PORT"
export MAIL_QUEUE_URL="$(mail_queue_url "$MOTO_PORT" "$TABLE")" TOKEN_KEYS_FILE="$(token_keys ES256)"
target/release/examples/routes
