// The two programs sanshift runs on a hypervisor as `sh -c SCRIPT NAME ARGS...`: the host probe
// (reads everything the engine decides on, in one session) and the md actions (check that a
// mirror is what it must be and act on it, in the same session). Why scripts: on a loaded or
// distant host a session costs 50-300 ms (seconds under emulation), so the unit of cost is the
// session, not the command (STYLE.md, round trips). They stay within I6: the text below is a
// constant, reviewed here; it never evaluates its arguments, and every argument is a device
// path or a number validated before it is passed (argv builders in probe.ts and md-act.ts).
// POSIX sh (dash on Debian, bash on RHEL); builtins wherever they do (a fork costs more than a
// read of a sysfs file); every fact is one line `KEY SUBJECT VALUE...`.
//
// Inside a TypeScript template literal, `\${` is the shell's `${` and `\\n` its `\n`.

/** Shared functions: fact output, the set of devices to examine, reading one device. */
const LIBRARY = `export LC_ALL=C
nl='
'
seen=' '
todo=''
fact() { printf '%s\\n' "$*"; }
one() { v=''; [ -r "$1" ] && read -r v < "$1"; return 0; }
want() {
  case $seen in *" $1 "*) return 0;; esac
  seen="$seen$1 "
  todo="$todo $1"
}
examine() {
  d=/sys/class/block/$1
  if [ ! -e "$d/dev" ]; then fact absent "$1"; return 0; fi
  one "$d/dev"; fact dev "$1" "$v"; mm=$v
  one "$d/size"; fact size "$1" "$v"
  one "$d/stat"; fact stat "$1" $v
  one "$d/queue/logical_block_size"; [ -n "$v" ] && fact lbs "$1" "$v"
  one "$d/partition"; [ -n "$v" ] && fact partition "$1" "$v"
  one "$d/dm/uuid"; [ -n "$v" ] && fact dmuuid "$1" "$v"
  one "$d/device/wwid"; [ -n "$v" ] && fact wwid "$1" "$v"
  if [ -r "/run/udev/data/b$mm" ]; then
    while IFS= read -r l; do
      case $l in
      E:ID_SERIAL=*|E:ID_WWN=*) fact udev "$1" "\${l#E:}";;
      E:ID_FS_TYPE=?*|E:ID_PART_TABLE_TYPE=?*) [ "$mode" = scan ] && fact udev "$1" "\${l#E:}";;
      esac
    done < "/run/udev/data/b$mm"
  fi
  for h in "$d"/holders/*; do
    [ -e "$h" ] || continue
    h=\${h##*/}; fact holder "$1" "$h"
    case $h in md*) want "$h";; esac
  done
  for p in "$d/$1"*; do
    [ -e "$p/partition" ] || continue
    p=\${p##*/}; fact part "$1" "$p"; want "$p"
  done
  if [ -d "$d/md" ]; then
    for f in array_state sync_action sync_completed degraded sync_speed sync_speed_max mismatch_cnt; do
      one "$d/md/$f"; fact md "$1" "$f" "$v"
    done
    for l in "$d"/md/dev-*; do
      [ -e "$l/state" ] || continue
      one "$l/state"; fact leg "$1" "\${l##*/dev-}" "$v"
      [ "$mode" = scan ] && want "\${l##*/dev-}"
    done
  fi
}
probe() {
  mode=$1; shift
  fact '#probe' 1 "$mode"
  if [ "$mode" = scan ]; then
    # every md array and every /dev/md name of the host, whatever paths were asked
    for n in /dev/md/*; do
      if [ -e "$n" ] || [ -L "$n" ]; then set -- "$@" "$n"; fi
    done
    for m in /sys/block/md*; do
      [ -e "$m/dev" ] && want "\${m##*/}"
    done
  fi
  if [ $# -gt 0 ]; then
    rest=$(readlink -m -- "$@")$nl
    for p do
      r=\${rest%%"$nl"*}; rest=\${rest#*"$nl"}
      fact link "$p" "$r"
      case $r in /dev/*/*) ;; /dev/?*) want "\${r#/dev/}";; esac
    done
  fi
  while [ -n "$todo" ]; do
    set -- $todo; todo=''
    for k do examine "$k"; done
  done
  if [ "$mode" = full ] || [ "$mode" = scan ]; then
    while read -r a b mm c mp e; do
      case $mm in 0:*) ;; *) fact mount "$mm" "$mp";; esac
    done < /proc/self/mountinfo
    if [ -r /proc/swaps ]; then
      { read -r h; while read -r f e; do fact swap "$f"; done; } < /proc/swaps
    fi
    if command -v mdadm >/dev/null 2>&1; then fact mdadm "$(mdadm --version 2>&1)"; else fact mdadm -; fi
    if command -v flock >/dev/null 2>&1; then fact flock present; else fact flock -; fi
    if command -v blockdev >/dev/null 2>&1; then fact blockdev present; else fact blockdev -; fi
  fi
  if [ "$mode" = scan ]; then
    # the VM leases (LEASE_SCRIPT) and the host's clock they are judged by
    for f in /run/lock/sanshift/vm-*.lease; do
      [ -f "$f" ] || continue
      one "$f"; n=\${f##*/vm-}; fact lease "\${n%.lease}" "$v"
    done
    fact clock "$(date +%s)"
  fi
  if [ -r /proc/mdstat ]; then
    fact '#mdstat'
    # in one read(2): the shell's read builtin takes a byte per call, and the kernel renders
    # /proc/mdstat again from an array's index at every call that empties its buffer, so an
    # array stopped meanwhile (another VM's T2) shifts the list and hides another array from
    # the read (lab, kernel 6.1: 17 of 450 reads lacked a steady array, 0 of 450 with cat)
    cat /proc/mdstat
  fi
  fact '#end'
}
`;

/** `sh -c PROBE_SCRIPT sanshift-probe MODE PATH...`: reads; changes nothing. */
export const PROBE_SCRIPT = `# sanshift host probe (src/host/scripts.ts): reads, changes nothing
${LIBRARY}probe "$@"
`;

/**
 * `sh -c MD_ACT_SCRIPT sanshift-md GROUP...`, each GROUP five words `VERB MIRROR OLD NEW ARG`.
 * Every group first checks that MIRROR is the array it must be (its legs, by kernel name) and
 * then acts on that array's kernel name, never on the name that was checked (a name is not an
 * identity: capture trap 1). All groups run under one host-wide lock, so two sanshift processes
 * (two operators, two machines) never race for an md minor. The first failure skips the rest.
 * A probe of every path named follows, so the caller sees the result without another session.
 */
export const MD_ACT_SCRIPT = `# sanshift md actions (src/host/scripts.ts)
${LIBRARY}run() {
  out=$("$@" 2>&1); rc=$?
  [ -n "$out" ] && printf '%s\\n' "$out" | while IFS= read -r l; do fact '>' "$l"; done
  return $rc
}
resolve3() {
  rest=$(readlink -m -- "$1" "$2" "$3")$nl
  mdr=\${rest%%"$nl"*}; rest=\${rest#*"$nl"}
  oldr=\${rest%%"$nl"*}; rest=\${rest#*"$nl"}
  newr=\${rest%%"$nl"*}
  mk=''; case $mdr in /dev/md[0-9]*) mk=\${mdr#/dev/};; esac
  ok=''; case $oldr in /dev/*/*) ;; /dev/?*) ok=\${oldr#/dev/};; esac
  nk=''; case $newr in /dev/*/*) ;; /dev/?*) nk=\${newr#/dev/};; esac
}
active() {
  [ -n "$mk" ] || return 1
  one "/sys/block/$mk/md/array_state"
  case $v in ''|clear|inactive) return 1;; esac
  legs=''
  for l in /sys/block/$mk/md/dev-*; do [ -e "$l" ] && legs="$legs \${l##*/dev-}"; done
  return 0
}
ours() {
  active || return 1
  has_old=''; has_new=''
  for l in $legs; do
    if [ "$l" = "$ok" ]; then has_old=1
    elif [ -n "$nk" ] && [ "$l" = "$nk" ]; then has_new=1
    else return 1
    fi
  done
  [ -n "$has_old" ]
}
busy() {
  users=''
  for k in "$1" $(cd "/sys/class/block/$1" 2>/dev/null && for p in "$1"*; do [ -e "$p/partition" ] && printf '%s ' "$p"; done); do
    for h in /sys/class/block/$k/holders/*; do [ -e "$h" ] && users="$users; $k is held by \${h##*/}"; done
    one "/sys/class/block/$k/dev"; kmm=$v
    while read -r a b mm c mp e; do [ "$mm" = "$kmm" ] && users="$users; $k is mounted on $mp"; done < /proc/self/mountinfo
    if [ -r /proc/swaps ]; then
      { read -r h; while read -r f e; do [ "$f" = "/dev/$k" ] && users="$users; $k is an active swap"; done; } < /proc/swaps
    fi
  done
}
setspeed() {
  [ "$1" = - ] && return 0
  printf '%s\\n' "$1" > "/sys/block/$mk/md/sync_speed_max"
}
act() {
  verb=$1 md=$2 old=$3 new=$4 arg=$5
  resolve3 "$md" "$old" "$new"
  case $verb in
  build)
    if ours; then
      if [ -n "$has_new" ]; then fact ok build "$md" "$mk" already-with-new; else fact ok build "$md" "$mk" already; fi
      return 0
    fi
    if active; then fact fail build "$md" name-taken "$mdr holds$legs"; return 1; fi
    if [ -z "$ok" ] || [ ! -e "/sys/class/block/$ok/dev" ]; then fact fail build "$md" old-missing "$old is not a block device"; return 1; fi
    for h in /sys/class/block/$ok/holders/*; do
      [ -e "$h" ] && { fact fail build "$md" old-held "$old is held by \${h##*/}"; return 1; }
    done
    run mdadm --build "$md" --level 1 --raid-disks=2 "$old" missing || { fact fail build "$md" mdadm "mdadm --build exited $rc"; return 1; }
    resolve3 "$md" "$old" "$new"
    if ! ours || [ -n "$has_new" ]; then fact fail build "$md" not-ours "after the build, $mdr does not hold $old alone"; return 1; fi
    setspeed "$arg" || { fact fail build "$md" speed "cannot write /sys/block/$mk/md/sync_speed_max"; return 1; }
    fact ok build "$md" "$mk"
    ;;
  flush)
    ours || { fact fail flush "$md" not-ours "$md is not the mirror of $old"; return 1; }
    run blockdev --flushbufs "/dev/$mk" || { fact fail flush "$md" blockdev "blockdev --flushbufs exited $rc"; return 1; }
    fact ok flush "$md" "$mk"
    ;;
  add)
    ours || { fact fail add "$md" not-ours "$md is not the mirror of $old"; return 1; }
    if [ -n "$has_new" ]; then fact ok add "$md" "$mk" already; return 0; fi
    if [ -z "$nk" ] || [ ! -e "/sys/class/block/$nk/dev" ]; then fact fail add "$md" new-missing "$new is not a block device"; return 1; fi
    busy "$nk"
    if [ -n "$users" ]; then fact fail add "$md" new-in-use "$new is in use: \${users#; }"; return 1; fi
    one "/sys/class/block/$ok/queue/logical_block_size"; olbs=$v
    one "/sys/class/block/$nk/queue/logical_block_size"
    if [ "$olbs" != "$v" ]; then fact fail add "$md" sector-size "$old has $olbs-byte sectors, $new has $v"; return 1; fi
    setspeed "$arg" || { fact fail add "$md" speed "cannot write /sys/block/$mk/md/sync_speed_max"; return 1; }
    one "/sys/class/block/$ok/stat"; fact base "$md" old "$ok" $v
    one "/sys/class/block/$mk/stat"; fact base "$md" md "$mk" $v
    run mdadm --add "/dev/$mk" "$new" || { fact fail add "$md" mdadm "mdadm --add exited $rc"; return 1; }
    fact ok add "$md" "$mk"
    ;;
  stop)
    if ! ours; then
      if active; then fact fail stop "$md" not-ours "$mdr holds$legs, not $old"; return 1; fi
      fact ok stop "$md" - already
      return 0
    fi
    run mdadm --stop "/dev/$mk" || { fact fail stop "$md" mdadm "mdadm --stop exited $rc"; return 1; }
    fact ok stop "$md" "$mk"
    ;;
  speed)
    ours || { fact fail speed "$md" not-ours "$md is not the mirror of $old"; return 1; }
    setspeed "$arg" || { fact fail speed "$md" speed "cannot write /sys/block/$mk/md/sync_speed_max"; return 1; }
    fact ok speed "$md" "$mk"
    ;;
  *)
    fact fail "$verb" "$md" verb "unknown verb"; return 1
    ;;
  esac
}
fact '#act' 1
owner=$1 vm=$2 ttl=$3
shift 3
[ -d /run/lock/sanshift ] || mkdir -p /run/lock/sanshift
exec 9>>/run/lock/sanshift-md.lock
if ! flock -w 60 9; then
  fact fail lock - lock "another process held /run/lock/sanshift-md.lock for 60 s"
  exit 0
fi
if [ "$owner" != - ]; then
  # the VM's lease (LEASE_SCRIPT) must be ours: a run that lost it to another never acts again.
  # Read and extended under the leases' own lock, so a takeover cannot slip in between.
  exec 8>>/run/lock/sanshift/leases.lock
  if ! flock -w 60 8; then
    fact fail lock - lock "another process held /run/lock/sanshift/leases.lock for 60 s"
    exit 0
  fi
  lease=/run/lock/sanshift/vm-$vm.lease
  cur=''; one "$lease"; cur=$v
  now=$(date +%s)
  if [ "\${cur%% *}" != "$owner" ]; then
    fact fail owner - not-owner "the lease of $vm is not held by this run: \${cur:-none}"
    exit 0
  fi
  printf '%s %s\\n' "$owner" "$((now + ttl))" > "$lease.tmp" && mv -f "$lease.tmp" "$lease"
  flock -u 8
fi
paths=''
failed=''
while [ $# -ge 5 ]; do
  verb=$1 md=$2 old=$3 new=$4 arg=$5
  shift 5
  paths="$paths $md $old $new"
  if [ -n "$failed" ]; then fact skip "$verb" "$md"; continue; fi
  act "$verb" "$md" "$old" "$new" "$arg" || failed=1
done
flock -u 9
set -- $paths
probe state "$@"
`;

/**
 * `sh -c LEASE_SCRIPT sanshift-lease OP OWNER TTL VM...`: the leases that make one sanshift run
 * the only one acting on a VM, whatever machine each runs from. A lease is a small file on the
 * hypervisor, `OWNER EXPIRY` (the host's clock, so two orchestrators' clocks never disagree);
 * every change of any lease on the host happens under one flock, so a lease left by a dead run
 * (expired) is taken over by exactly one taker. OP: acquire (or renew: the same), release, or
 * takeover: acquire, also from the one owner named after TTL (a run this machine knows is dead).
 * Every md action checks the VM's lease is still its run's and extends it (MD_ACT_SCRIPT).
 */
export const LEASE_SCRIPT = `# sanshift VM leases (src/host/scripts.ts)
export LC_ALL=C
op=$1 owner=$2 ttl=$3
shift 3
dead=''
if [ "$op" = takeover ]; then dead=$1; shift; op=acquire; fi
dir=/run/lock/sanshift
[ -d "$dir" ] || mkdir -p "$dir"
exec 8>>"$dir/leases.lock"
flock -w 60 8 || { printf 'lock-timeout\\n'; exit 0; }
now=$(date +%s)
for vm do
  f=$dir/vm-$vm.lease
  cur=''
  [ -r "$f" ] && read -r cur < "$f"
  who=\${cur%% *}
  until=\${cur#* }
  case $op in
  acquire)
    if [ -z "$cur" ] || [ "$who" = "$owner" ] || [ "$who" = "$dead" ] || [ "$until" -lt "$now" ] 2>/dev/null; then
      printf '%s %s\\n' "$owner" "$((now + ttl))" > "$f.tmp" && mv -f "$f.tmp" "$f"
      if [ -n "$cur" ] && [ "$who" != "$owner" ]; then printf 'took %s %s\\n' "$vm" "$cur"; else printf 'held %s\\n' "$vm"; fi
    else
      printf 'busy %s %s %s\\n' "$vm" "$who" "$((until - now))"
    fi
    ;;
  release)
    [ "$who" = "$owner" ] && rm -f "$f"
    printf 'released %s\\n' "$vm"
    ;;
  esac
done
`;
