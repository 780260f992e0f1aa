#!/bin/bash
# Print /sys/block/MD/md as "file: value" lines, members as dev-X/state and dev-X/block,
# the layout of the captures in fixtures/lab-captures.
md="${1:?usage: md-sysfs.sh mdN}"
d="/sys/block/$md/md"
for f in sync_action sync_completed degraded sync_speed sync_speed_min sync_speed_max array_state \
  level raid_disks component_size mismatch_cnt metadata_version; do
  [ -e "$d/$f" ] && echo "$f: $(cat "$d/$f")"
done
for m in "$d"/dev-*; do
  [ -e "$m" ] || continue
  echo "${m##*/}/state: $(cat "$m/state")"
  echo "${m##*/}/block: $(basename "$(readlink "$m/block")")"
done
