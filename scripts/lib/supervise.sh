#!/usr/bin/env bash
# supervise.sh NAME COMMAND... — runs COMMAND and starts it again whenever it exits, until this script gets TERM
# or INT (then it stops COMMAND and exits). `npm start` runs the sfu-node under it, so a node that crashes or is
# killed comes back on its own while the Worker and the local S3 store stay up, as a service manager would do in
# production (systemd `Restart=always`); the classes then recover through their own rejoin ladder.
#
# A command that keeps dying soon after it starts is started again after a growing pause (1 s doubling to 30 s),
# so a broken configuration does not spin; one that ran for a minute or more is started again after 1 s.
set -uo pipefail

name="$1"
shift

child=""
stopping=0
stop() {
  stopping=1
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null
}
trap stop TERM INT

pause=1
while :; do
  started=$SECONDS
  "$@" &
  child=$!
  # `wait` also returns when a trapped signal arrives; wait again until the child has really gone.
  while :; do
    wait "$child"
    status=$?
    kill -0 "$child" 2>/dev/null || break
  done
  child=""
  [ "$stopping" = 1 ] && exit 0
  if [ $((SECONDS - started)) -ge 60 ]; then pause=1; fi
  echo "[supervise] $name exited (status $status); starting it again in ${pause} s" >&2
  sleep "$pause" &
  wait $! 2>/dev/null
  [ "$stopping" = 1 ] && exit 0
  pause=$((pause * 2 > 30 ? 30 : pause * 2))
done
