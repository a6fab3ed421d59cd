#!/usr/bin/env bash
# The README's curl session, against `make run` (conveyor serve on 127.0.0.1:8000 with
# examples/service.py, no API keys on localhost). Run it in a second terminal:
#   bash examples/http_session.sh
# With auth on, set CONVEYOR_KEY to a key from `conveyor keys create --tenant acme`.
set -euo pipefail
API=${CONVEYOR_API:-http://127.0.0.1:8000}
AUTH=()
if [[ -n "${CONVEYOR_KEY:-}" ]]; then AUTH=(-H "Authorization: Bearer $CONVEYOR_KEY"); fi
SUBMITTED=$(mktemp)
trap 'rm -f "$SUBMITTED"' EXIT

# What can I submit? Job types with the JSON Schema of their payloads.
curl -sS "${AUTH[@]}" "$API/v1/job-types"
echo

# Submit a job: 202 Accepted, the job, and its Location.
curl -sS -i "${AUTH[@]}" -X POST "$API/v1/jobs" \
  -H 'Content-Type: application/json' \
  -H 'Idempotency-Key: resize-cat-320' \
  -d '{"type": "images.resize", "payload": {"image": "cat.png", "width": 320}}' | tee "$SUBMITTED"
echo
JOB=$(sed -n 's/^[Ll]ocation: *\([^[:space:]]*\).*/\1/p' "$SUBMITTED")

# Poll the job until it has finished (the worker in `conveyor serve` runs it).
for _ in $(seq 100); do
  STATE=$(curl -sS "${AUTH[@]}" "$API$JOB" | sed 's/.*"state":"\([a-z]*\)".*/\1/')
  [[ "$STATE" == succeeded || "$STATE" == dead ]] && break
  sleep 0.2
done
curl -sS "${AUTH[@]}" "$API$JOB"
echo

# The same request with the same Idempotency-Key: 200 and the same job, nothing new.
curl -sS -o /dev/null -w '%{http_code}\n' "${AUTH[@]}" -X POST "$API/v1/jobs" \
  -H 'Content-Type: application/json' \
  -H 'Idempotency-Key: resize-cat-320' \
  -d '{"type": "images.resize", "payload": {"image": "cat.png", "width": 320}}'

# An invalid payload: 422 problem details, with the path of each bad field.
curl -sS "${AUTH[@]}" -X POST "$API/v1/jobs" \
  -H 'Content-Type: application/json' \
  -d '{"type": "images.resize", "payload": {"image": "cat.png", "width": -1}}'
echo
