#!/usr/bin/env bash
# `npm start`: the whole insp-live stack on this machine — the Worker, Durable Objects, D1, R2, Queues and Cron
# under `wrangler dev`, with demo data — until Ctrl-C.
#
# Settings (all optional):
#   PORT                port of the Worker (default 8787); it listens on 127.0.0.1 only
#   INSPECTOR_PORT      port of workerd's debugger (default: wrangler's choice)
#   INSP_LIVE_STATE     directory of the local D1/R2/Durable Object state (default .wrangler/state)
#   START_SKIP_INSTALL  1: skip installing system and npm packages (the e2e harness; the caller did it)
# When the Worker answers /api/health it prints one line `READY <url>`, which the e2e harness waits for.
set -euo pipefail

source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
source "$repo_root/scripts/lib/services.sh"
cd "$repo_root"

port="${PORT:-8787}"
state_dir="$(mkdir -p "${INSP_LIVE_STATE:-.wrangler/state}" && cd "${INSP_LIVE_STATE:-.wrangler/state}" && pwd)"
url="http://127.0.0.1:$port"

if [ "${START_SKIP_INSTALL:-0}" = 1 ]; then
  ensure_mediasoup_worker
  MEDIASOUP_WORKER_BIN="$(mediasoup_worker_path)"
  export MEDIASOUP_WORKER_BIN
else
  ensure_prerequisites
fi

npx tsx scripts/dev-vars.ts
log "building the web app"
npm run --silent build:web >/dev/null
log "applying D1 migrations ($state_dir)"
npx wrangler d1 migrations apply DB --local --persist-to "$state_dir" >/dev/null
npx tsx scripts/seed.ts --persist-to "$state_dir"

on_exit() {
  trap - EXIT INT TERM
  stop_services
}
trap on_exit EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

inspector=()
[ -n "${INSPECTOR_PORT:-}" ] && inspector=(--inspector-port "$INSPECTOR_PORT")
# PUBLIC_URL makes the join links in reminders point at this stack, whatever its port.
start_service "wrangler dev" npx wrangler dev --ip 127.0.0.1 --port "$port" --persist-to "$state_dir" \
  --var "PUBLIC_URL:$url" --show-interactive-dev-session=false "${inspector[@]}"
start_extra_services "$url" "$state_dir"

# Plain bash HTTP probe: one GET over /dev/tcp, true when the status line says 200.
worker_healthy() {
  local status
  { exec 3<>"/dev/tcp/127.0.0.1/$port"; } 2>/dev/null || return 1
  printf 'GET /api/health HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n' "$port" >&3
  read -r -t 5 status <&3 || status=""
  exec 3<&- 3>&-
  [[ "$status" == *" 200 "* ]]
}

deadline=$((SECONDS + 120))
until worker_healthy; do
  services_alive || die "the stack did not start (see the output above)"
  [ $SECONDS -lt $deadline ] || die "the Worker did not answer $url/api/health within 120 s"
  sleep 0.5
done
wait_extra_services

# Cron Triggers do not fire under `wrangler dev`: tick the Worker's scheduled handler at the top of every minute,
# as production would, so reminders go out (their messages show in this console as `[outbox] …`).
start_service "cron ticker" bash -c '
  while sleep $((60 - $(date +%s) % 60)); do
    exec 3<>"/dev/tcp/127.0.0.1/$1" || continue
    printf "GET /cdn-cgi/local/scheduled?cron=*+*+*+*+* HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" >&3
    cat <&3 >/dev/null
    exec 3<&- 3>&-
  done' cron-ticker "$port"

npx tsx scripts/lib/banner.ts "$url"
echo "READY $url"

# Runs until Ctrl-C (the trap stops everything) or until a service dies (then stop the rest, report failure).
while services_alive; do
  wait -n "${service_pids[@]}" 2>/dev/null || true
done
die "a service stopped; stopping the stack"
