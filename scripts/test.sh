#!/usr/bin/env bash
# The whole test suite: lint, then pytest on SQLite, then again on PostgreSQL for the
# tests that touch the database when PDX_TEST_DATABASE_URL is set (CI sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser

echo "==> ruff"
.venv/bin/ruff check .

echo "==> pytest on SQLite"
env -u PDX_TEST_DATABASE_URL .venv/bin/pytest "$@"

if [ -n "${PDX_TEST_DATABASE_URL:-}" ]; then
  echo "==> pytest on PostgreSQL ($PDX_TEST_DATABASE_URL), database tests only"
  PDX_TEST_DB_ONLY=1 .venv/bin/pytest "$@"
fi
