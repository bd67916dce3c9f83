#!/usr/bin/env bash
# The marketplace with demo data on the embedded default: SQLite, local files and one
# job worker, no servers to install. http://127.0.0.1:5000
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/pdx db upgrade heads
.venv/bin/pdx demo
exec .venv/bin/pdx serve "$@"
