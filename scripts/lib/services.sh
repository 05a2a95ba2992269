# The long-running processes of the local stack. Source it; do not run it.
#
# Each service runs in its own process group (setsid), so stopping it also stops whatever it spawned (wrangler
# starts workerd; sfu-node starts mediasoup workers). stop_services is safe to call more than once.

service_pids=()
service_names=()

# start_service NAME COMMAND... — runs COMMAND in the background in a new process group; its output goes where
# ours goes. Ctrl-C reaches only this script (the services are in other groups), and its trap stops them all.
start_service() {
  local name="$1"
  shift
  setsid "$@" </dev/null &
  service_pids+=("$!")
  service_names+=("$name")
  log "started $name (pid $!)"
}

# Fails when any started service has exited, naming it: a crashed service must not look like a slow one.
services_alive() {
  local i
  for i in "${!service_pids[@]}"; do
    if ! kill -0 "${service_pids[$i]}" 2>/dev/null; then
      log "${service_names[$i]} exited"
      return 1
    fi
  done
}

# Sends TERM to every service's process group, waits up to 10 s, then KILLs what is left.
stop_services() {
  local pid waited=0
  for pid in "${service_pids[@]}"; do kill -TERM -- "-$pid" 2>/dev/null || true; done
  while [ $waited -lt 50 ]; do
    local alive=0
    for pid in "${service_pids[@]}"; do kill -0 -- "-$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.2
    waited=$((waited + 1))
  done
  for pid in "${service_pids[@]}"; do kill -KILL -- "-$pid" 2>/dev/null || true; done
  service_pids=()
  service_names=()
}

# The place where the stack grows: later parts (one sfu-node, a local S3-compatible store, …) start here with
# start_service, next to the Worker. Arguments: the Worker's URL and the state directory. Nothing yet.
start_extra_services() {
  local worker_url="$1" state_dir="$2"
  : "$worker_url" "$state_dir"
  local port="${worker_url##*:}"

  # Recordings storage (REC-STORE): a local S3-compatible store (s3rver) on PORT+50 with its data in the state
  # directory, unless real S3 settings are already in the environment. The exports reach the sfu-node started
  # after this block, which uploads and packages recordings there; browsers fetch the packaged files directly.
  if [ -z "${S3_BUCKET:-}" ]; then
    local s3_port=$((port + 50))
    export S3_ENDPOINT="http://127.0.0.1:$s3_port" S3_REGION=us-east-1 S3_BUCKET=insp-live-recordings \
      S3_ACCESS_KEY_ID=S3RVER S3_SECRET_ACCESS_KEY=S3RVER
    export S3_PUBLIC_URL="$S3_ENDPOINT/$S3_BUCKET"
    start_service "local S3 (s3rver)" npx tsx scripts/s3-local.ts --port "$s3_port" --dir "$state_dir/s3" \
      --bucket "$S3_BUCKET" --origin "$worker_url" --origin "http://localhost:$port"
    local waited=0
    until { exec 3<>"/dev/tcp/127.0.0.1/$s3_port"; } 2>/dev/null; do
      services_alive || die "the local S3 store did not start (see the output above)"
      [ $waited -lt 100 ] || die "the local S3 store did not listen on port $s3_port within 20 s"
      sleep 0.2
      waited=$((waited + 1))
    done
    exec 3<&- 3>&-
  fi
}
