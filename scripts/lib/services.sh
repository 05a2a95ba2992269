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
# start_service, next to the Worker. Arguments: the Worker's URL and the state directory.
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

  # The media plane (MEDIA-DO): one sfu-node on PORT+40 (or SFU_PORT), region `local`, node id `local-<port>`.
  # It signs its requests to the Worker with its own key, generated once into the state dir (one file per node
  # id) and enrolled with the Worker by wait_extra_services, using FLEET_ENROLMENT_SECRET of .dev.vars (the node
  # never sees that secret; a FLEET_CREDENTIAL inherited from the shell is blanked, as nodes refuse it). Its RTC
  # ports sit in a 100-port window derived from PORT (WebRtcServer on the first ports, the fallback/plain-
  # transport range after them), so stacks on different ports do not collide; SFU_WEBRTC_SERVER_PORT /
  # SFU_RTC_PORT_MIN / SFU_RTC_PORT_MAX in the environment override it. The recorder's loopback RTP ports get
  # their own 100-port window (60000+), its working files the state dir.
  sfu_port="${SFU_PORT:-$((port + 40))}"
  sfu_worker_url="$worker_url"
  sfu_node_id="local-$sfu_port"
  sfu_key_file="$state_dir/sfu-node-$sfu_node_id.key.json"
  local rtc_base=$((20000 + (port % 400) * 100))
  if [ ! -s "$sfu_key_file" ]; then
    rm -f "$sfu_key_file"
    npx tsx scripts/fleet-key.ts generate --out "$sfu_key_file" 2>/dev/null || die "could not generate the sfu-node's key ($sfu_key_file)"
  fi
  # Supervised: a node that crashes or is killed is started again (same id, key and recordings directory) while
  # the rest of the stack stays up; see scripts/lib/supervise.sh.
  # Its SIGTERM drain (sfu-node/src/drain.ts) waits 2 s at most here: stopping the stack stops the Worker too, so
  # nobody can move, and the stop gives every service 10 s (running recordings are composed in them).
  start_service "sfu-node" bash "$repo_root/scripts/lib/supervise.sh" sfu-node env SFU_PORT="$sfu_port" SFU_LISTEN_HOST=127.0.0.1 SFU_REGION=local SFU_NODE_ID="$sfu_node_id" \
    SFU_WEBRTC_SERVER_PORT="${SFU_WEBRTC_SERVER_PORT:-$rtc_base}" \
    SFU_RTC_PORT_MIN="${SFU_RTC_PORT_MIN:-$((rtc_base + 10))}" SFU_RTC_PORT_MAX="${SFU_RTC_PORT_MAX:-$((rtc_base + 99))}" \
    SFU_RECORDING_PORT_MIN="${SFU_RECORDING_PORT_MIN:-$((60000 + (port % 50) * 100))}" \
    SFU_RECORDING_PORT_MAX="${SFU_RECORDING_PORT_MAX:-$((60000 + (port % 50) * 100 + 99))}" \
    SFU_RECORDING_DIR="${SFU_RECORDING_DIR:-$state_dir/recordings}" SFU_DRAIN_DEADLINE_MS="${SFU_DRAIN_DEADLINE_MS:-2000}" \
    WORKER_URL="$worker_url" SFU_NODE_KEY="$(cat "$sfu_key_file")" FLEET_CREDENTIAL= npm run --silent sfu
}

# The sfu-node's port, the Worker it registers with, its id and key file (set by start_extra_services).
sfu_port=""
sfu_worker_url=""
sfu_node_id=""
sfu_key_file=""

# Waits (after the Worker answers) until the sfu-node says it is registered with the Worker: only then can a
# class get media. Its /health reports `"fleet":"registered"`.
wait_extra_services() {
  local deadline=$((SECONDS + 60)) body secret
  # The node's key is enrolled once the Worker answers (enrolling it again is a no-op); the node retries its
  # registration until then.
  secret="$(sed -n "s/^FLEET_ENROLMENT_SECRET=['\"]\{0,1\}\([^'\"]*\)['\"]\{0,1\}$/\1/p" "$repo_root/.dev.vars" | tail -n 1)"
  [ -n "$secret" ] || die "FLEET_ENROLMENT_SECRET is missing from $repo_root/.dev.vars (scripts/dev-vars.ts writes it)"
  FLEET_ENROLMENT_SECRET="$secret" npx tsx scripts/fleet-key.ts enrol --worker "$sfu_worker_url" --node "$sfu_node_id" --key-file "$sfu_key_file" >/dev/null \
    || die "could not enrol the sfu-node's key with the Worker"
  while :; do
    body=""
    if { exec 3<>"/dev/tcp/127.0.0.1/$sfu_port"; } 2>/dev/null; then
      printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
      body="$(timeout 5 cat <&3 || true)"
      exec 3<&- 3>&-
    fi
    [[ "$body" == *'"fleet":"registered"'* ]] && break
    services_alive || die "the sfu-node did not start (see the output above)"
    [ $SECONDS -lt $deadline ] || die "the sfu-node on port $sfu_port did not register with the Worker within 60 s"
    sleep 0.5
  done
  log "sfu-node registered (http://127.0.0.1:$sfu_port)"
}
