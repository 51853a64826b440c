#!/usr/bin/env bash
# The demo: the full loop against the embedded sandbox, as a new user would run it.
# It runs in the project's own sandbox, .ftctl/sandbox.db (the one `ftctl … --sandbox` uses), so that
# `ftctl status --sandbox` and `ftctl wait --sandbox` show its jobs afterwards. Every run starts from
# an empty sandbox: what was there is moved to .ftctl/sandbox-before-demo/ (scripts/empty_sandbox.py).
set -euo pipefail
cd "$(dirname "$0")/.."
FTCTL=.venv/bin/ftctl
DB=${FTCTL_SANDBOX_DB:-.ftctl/sandbox.db}  # the sandbox --sandbox uses, relative to the project root (here)
PLAN=.ftctl/demo-plan.json
# Jobs pass through their phases 4 times faster than the sandbox's default: they finish in about 20 s.
export FTCTL_SANDBOX_SPEED=${FTCTL_SANDBOX_SPEED:-4}

if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }

.venv/bin/python scripts/empty_sandbox.py "$DB"
rm -rf "$PLAN" .ftctl/demo-sandbox.db*  # the latter: the demo's own sandbox, before it used the project's

step "ftctl validate manifests examples/manifests"
"$FTCTL" validate manifests examples/manifests

step "ftctl plan --sandbox --out $PLAN   # what would change, saved for review"
"$FTCTL" plan --sandbox --out "$PLAN"

step "ftctl apply $PLAN   # exactly the reviewed plan, on the target it names; asks nothing"
"$FTCTL" apply "$PLAN"

step "ftctl apply --sandbox --auto-approve --wait --timeout 10m   # the pipeline: support-bot is evaluated, then support-bot-dpo trained on it"
"$FTCTL" apply --sandbox --auto-approve --wait --timeout 10m --poll-interval 1s

step "ftctl eval --sandbox -o markdown   # the report a pull request shows: support-bot against its base, and its gate"
"$FTCTL" eval --sandbox -o markdown

step "ftctl graph --sandbox   # the pipeline's stages and their status"
"$FTCTL" graph --sandbox

step "ftctl plan --sandbox --detailed-exitcode   # nothing left to do: exit 0"
"$FTCTL" plan --sandbox --detailed-exitcode

step "ftctl status --sandbox"
"$FTCTL" status --sandbox

step "Next"
cat <<EOF
The demo's jobs are in the embedded sandbox ($DB); the pipeline's two stages have finished (the first
passed its evaluation gate before the second was trained), the other jobs may still be training. Look
at them with the virtualenv's ftctl:

  $FTCTL wait --sandbox      # until every job has finished
  $FTCTL outputs --sandbox   # the fine-tuned models and checkpoints
  $FTCTL graph --sandbox     # the pipeline (docs/pipelines.md)
  $FTCTL eval --sandbox      # the evaluation again: from the cache, no request (docs/evaluations.md)
  $FTCTL metrics support-bot --sandbox   # its training curve

or put it on your PATH first: source .venv/bin/activate, then ftctl wait --sandbox.
The README's Quick start walks through the same loop step by step.
EOF
