# Shared steps of `npm start` (scripts/start.sh) and `npm test` (scripts/test.sh). Source it; do not run it.
# Every check is cheap when its thing is already present, so both scripts can call them on every run.

# Debian packages the stack needs at run time: Chromium drives the browser tests, FFmpeg records and transcodes,
# iproute2 brings up loopback inside the network namespace the browser tests run in.
INSP_LIVE_SYSTEM_PACKAGES=(chromium ffmpeg iproute2)

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"

log() { printf '[insp-live] %s\n' "$*" >&2; }
die() { printf '[insp-live] error: %s\n' "$*" >&2; exit 1; }

apt_lists_updated=0

# Installs the missing system packages with apt-get when we are root; otherwise names the exact command to run.
ensure_system_packages() {
  local missing=() pkg
  for pkg in "${INSP_LIVE_SYSTEM_PACKAGES[@]}"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null 2>&1; then
    die "missing system packages: ${missing[*]} (install them with your package manager)"
  fi
  if [ "$(id -u)" != 0 ]; then
    die "missing system packages: ${missing[*]}. Install them as root: apt-get update && apt-get install -y ${missing[*]}"
  fi
  log "installing system packages: ${missing[*]}"
  if [ "$apt_lists_updated" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
    apt_lists_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
}

# mediasoup ships its C++ worker as a download (or builds it from source); offline machines point
# MEDIASOUP_WORKER_BIN at a prebuilt binary instead, which mediasoup honours at install and at run time.
mediasoup_worker_path() {
  if [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && [ -x "${MEDIASOUP_WORKER_BIN}" ]; then
    printf '%s\n' "$MEDIASOUP_WORKER_BIN"
    return 0
  fi
  local bundled="$repo_root/node_modules/mediasoup/worker/out/Release/mediasoup-worker"
  [ -x "$bundled" ] && { printf '%s\n' "$bundled"; return 0; }
  return 1
}

mediasoup_worker_help() {
  cat >&2 <<'HELP'
[insp-live] error: no mediasoup worker binary.
  mediasoup could not download or build its worker (node_modules/mediasoup/worker/out/Release/mediasoup-worker
  is missing) and MEDIASOUP_WORKER_BIN is unset or not executable.
  Offline: build or copy a mediasoup-worker 3.27.1 binary, then
    export MEDIASOUP_WORKER_BIN=/absolute/path/to/mediasoup-worker
  and run the command again (also before `npm ci`). See README.md, "Offline install".
HELP
}

ensure_mediasoup_worker() {
  if ! mediasoup_worker_path >/dev/null; then
    mediasoup_worker_help
    exit 1
  fi
}

# Installs node_modules from package-lock.json when they are missing. An existing tree is left alone: `npm ci`
# deletes node_modules first, which would pull the rug from under anything running from this checkout.
ensure_node_modules() {
  [ -f "$repo_root/node_modules/.package-lock.json" ] && return 0
  log "installing npm packages (npm ci)"
  if ! (cd "$repo_root" && npm ci --no-audit --no-fund >&2); then
    if ! mediasoup_worker_path >/dev/null; then mediasoup_worker_help; fi
    die "npm ci failed (see above)"
  fi
}

# Everything both `npm start` and `npm test` need before they run anything.
ensure_prerequisites() {
  ensure_system_packages
  ensure_node_modules
  ensure_mediasoup_worker
  MEDIASOUP_WORKER_BIN="$(mediasoup_worker_path)"
  export MEDIASOUP_WORKER_BIN
}

# wrangler must not phone home: the machine may be offline and tests must not depend on Cloudflare.
export CLOUDFLARE_CF_FETCH_ENABLED=false
export WRANGLER_SEND_METRICS=false
