#!/usr/bin/env bash
# Kill any lab qemu left behind (a crashed test run, say), by the pid files of its run folders.
set -uo pipefail
WORK="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/work"
for pidfile in "$WORK"/run-*/qemu.pid; do
  [[ -e "$pidfile" ]] || continue
  pid="$(cat "$pidfile")"
  # only a qemu of this lab: the pid may have been reused since
  if [[ "$pid" =~ ^[0-9]+$ ]] && grep -q "sanshift-lab" "/proc/$pid/cmdline" 2>/dev/null; then
    echo "stopping lab qemu $pid ($pidfile)"
    kill -TERM "$pid"
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
  fi
  rm -f "$pidfile"
done
rm -f /tmp/sanshift-lab-*.ssh
