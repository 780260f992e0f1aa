#!/bin/bash
# Writes through a mirror while md resyncs it, as its guest would: waits (in the lab host,
# polling /proc/mdstat every 0.1 s) until the mirror recovers, then writes COUNT_AHEAD MiB at
# AHEAD (past the resync point: md must still copy it), looks whether it still recovers, then
# COUNT_BEHIND MiB at BEHIND (already copied: md writes both legs). The blocks are the pattern
# of guest/volume-pattern.mjs for TAG. One ssh command for all of it: under a loaded TCG lab,
# a round trip per step (and node's start) took longer than a 128 MiB resync.
# Usage: write-mid-resync.sh MIRROR TAG AHEAD COUNT_AHEAD BEHIND COUNT_BEHIND TIMEOUT_S
# Prints "landed-mid-resync yes|no", then /proc/mdstat and mdadm --detail as they were then.
# no pipefail: `yes` ends on SIGPIPE when head has its MiB, by design
set -eu
mirror=$1 tag=$2 ahead=$3 count_ahead=$4 behind=$5 count_behind=$6 timeout_s=$7

recovering() {
  local k mdstat block
  k=$(readlink -f "$mirror" 2>/dev/null) || return 1
  k=${k#/dev/}
  [[ $k == md* ]] || return 1
  mdstat=$(< /proc/mdstat)
  block=${mdstat#*$'\n'"$k : "}
  [[ $block != "$mdstat" ]] || return 1
  block=${block%%$'\n\n'*}
  [[ $block == *"recovery ="* ]]
}

# blocks FROM.. (COUNT MiB) of TAG's pattern: one 64-byte line per MiB index, repeated
write_blocks() {
  local from=$1 count=$2 i t pad
  for ((i = from; i < from + count; i++)); do
    printf -v t 'sanshift-lab %s MiB %06d ' "$tag" "$i"
    printf -v pad '%*s' $((63 - ${#t})) ''
    yes "$t${pad// /.}" | head -c 1048576
  done | dd of="$mirror" bs=1M seek="$from" count="$count" iflag=fullblock oflag=direct conv=notrunc,fsync status=none
}

deadline=$((SECONDS + timeout_s))
until recovering; do
  ((SECONDS < deadline)) || { echo "$mirror was never seen resyncing within ${timeout_s} s" >&2; exit 3; }
  sleep 0.1
done
write_blocks "$ahead" "$count_ahead"
if recovering; then landed=yes; else landed=no; fi
mdstat=$(< /proc/mdstat)
detail=$(mdadm --detail "$mirror")
write_blocks "$behind" "$count_behind"
printf 'landed-mid-resync %s\n%s\n---detail---\n%s\n' "$landed" "$mdstat" "$detail"
