#!/usr/bin/env bash
# `assetgen bench` against the production stack on loopback: PostgreSQL + Redis + a moto S3 server.
#
#   scripts/bench_stack.sh [assetgen bench options...]     e.g. scripts/bench_stack.sh --json --out bench_out/stack
#
# Needs PostgreSQL (PG_ADMIN_URL, default postgresql://postgres@127.0.0.1:5432/postgres, trust auth) and
# Redis (REDIS_URL, default redis://127.0.0.1:6379/0) running, as on the dev/CI machines; starts its own moto
# server on a free port, a fresh database and bucket, and removes the database and the server at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
PY="${PYTHON:-$ROOT/.venv/bin/python}"
PG_ADMIN_URL="${PG_ADMIN_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_DEFAULT_REGION=us-east-1

PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
DB="assetgen_bench_$(date +%s)_$$"
LOG="$(mktemp)"
"$PY" -m moto.server -H 127.0.0.1 -p "$PORT" >"$LOG" 2>&1 &
MOTO=$!
cleanup() {
  kill "$MOTO" 2>/dev/null || true
  "$PY" -c "import psycopg, sys; c = psycopg.connect(sys.argv[1], autocommit=True); \
c.execute('DROP DATABASE IF EXISTS \"$DB\" WITH (FORCE)')" "$PG_ADMIN_URL" || true
  rm -f "$LOG"
}
trap cleanup EXIT
"$PY" - "$PORT" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 30  # bounded wait for the moto server to listen
while socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))):
    if time.monotonic() > deadline:
        sys.exit("moto server did not start in 30 s")
    time.sleep(0.1)
PY
"$PY" -c "import psycopg, sys; psycopg.connect(sys.argv[1], autocommit=True).execute('CREATE DATABASE \"$DB\"')" \
  "$PG_ADMIN_URL"
"$PY" -c "import boto3, sys; boto3.client('s3', endpoint_url=sys.argv[1]).create_bucket(Bucket='bench')" \
  "http://127.0.0.1:$PORT"

export ASSETGEN_DATABASE_URL="${PG_ADMIN_URL%/*}/$DB"
export ASSETGEN_DATABASE_URL="${ASSETGEN_DATABASE_URL/postgresql:/postgresql+psycopg:}"
export ASSETGEN_BROKER_URL="$REDIS_URL" ASSETGEN_STORAGE_URL="s3://bench/assetgen"
export ASSETGEN_S3_ENDPOINT_URL="http://127.0.0.1:$PORT" ASSETGEN_HOME="${ASSETGEN_HOME:-$(mktemp -d)}"
"$PY" -m jobs.cli.main db upgrade >&2
"$PY" -m jobs.cli.main bench "$@"
