#!/usr/bin/env bash
# Re-link the strict editable install after adding or removing a module.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/pip install --no-deps --no-build-isolation -q -e . --config-settings editable_mode=strict
