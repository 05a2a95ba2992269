#!/usr/bin/env bash
# loopback-netns.sh COMMAND... — runs COMMAND in a new network namespace whose only interface is loopback (up).
#
# Chromium's WebRTC only gathers usable ICE candidates here when loopback is the sole network, and it keeps the
# browser tests off every real network. Everything that talks to each other (the stack and the browser) must run
# inside the same namespace, so the e2e suite runs as a whole under this wrapper. Non-root users get a user
# namespace too (unshare -r), which needs unprivileged user namespaces enabled.
set -euo pipefail

[ $# -gt 0 ] || { echo "usage: $0 COMMAND..." >&2; exit 2; }

if [ "${INSP_LIVE_LOOPBACK_NETNS:-}" = 1 ]; then
  exec "$@"
fi
command -v unshare >/dev/null || { echo "[insp-live] error: unshare (util-linux) is missing" >&2; exit 1; }
command -v ip >/dev/null || { echo "[insp-live] error: ip is missing: apt-get install -y iproute2" >&2; exit 1; }

user_namespace=()
[ "$(id -u)" = 0 ] || user_namespace=(-r)
export INSP_LIVE_LOOPBACK_NETNS=1
exec unshare "${user_namespace[@]}" -n bash -c 'ip link set lo up && exec "$@"' loopback-netns "$@"
