#!/usr/bin/env bash
# The demo: what a new user sees first. Runs the project's own CLI from .venv.
set -euo pipefail
cd "$(dirname "$0")/.."
FTCTL=.venv/bin/ftctl

echo "== ftctl validate manifests examples"
"$FTCTL" validate manifests examples
