#!/usr/bin/env bash
# The demo: the full loop against the embedded sandbox, as a new user would run it.
# Its sandbox state lives in .ftctl/demo-sandbox.db and starts empty on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
FTCTL=.venv/bin/ftctl
export FTCTL_SANDBOX_DB=.ftctl/demo-sandbox.db
PLAN=.ftctl/demo-plan.json
rm -rf "$FTCTL_SANDBOX_DB" "$FTCTL_SANDBOX_DB".files "$FTCTL_SANDBOX_DB"-wal "$FTCTL_SANDBOX_DB"-shm "$PLAN"
mkdir -p .ftctl

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

step "ftctl validate manifests examples/manifests"
"$FTCTL" validate manifests examples/manifests

step "ftctl plan --sandbox --out $PLAN   # what would change, saved for review"
"$FTCTL" plan --sandbox --out "$PLAN"

step "ftctl apply $PLAN   # exactly the reviewed plan, on the target it names; asks nothing"
"$FTCTL" apply "$PLAN"

step "ftctl plan --sandbox --detailed-exitcode   # nothing left to do: exit 0"
"$FTCTL" plan --sandbox --detailed-exitcode

step "ftctl status --sandbox"
"$FTCTL" status --sandbox
