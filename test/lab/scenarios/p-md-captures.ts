// (p) What the unit tests take on trust from the real stack: sanshift's host scripts (the probe,
// the md actions with their lease check, the leases) captured on the lab host for the simulated
// host's byte-for-byte test (test/host/probe.test.ts), and the page-cache hazard that
// flush-mirrors exists for, shown and then fixed by `blockdev --flushbufs` (issue 9).
import { leaseArgv } from '../../../src/host/leases.js';
import { mdActArgv, type MdAction } from '../../../src/host/md-act.js';
import { probeArgv } from '../../../src/host/probe.js';
import { capture, type Scenario } from './scenario.js';

/** bash, on the lab host: $1 the probe script, $2 probes to run (at most 300 s). One array
 * stays; two others are built and stopped in a loop; prints how many probes ran and how many
 * lacked the steady one. */
const PROBE_RACE = `set -u
probe=$1; want=$2
for d in race-keep race-a race-b; do dmsetup create "$d" --table '0 65536 zero' || exit 1; done
mdadm --build /dev/md/race-keep --level=1 --raid-disks=2 /dev/mapper/race-keep missing >/dev/null 2>&1 || exit 1
keep=$(basename "$(readlink -f /dev/md/race-keep)")
rm -f /run/race-stop
( while [ ! -e /run/race-stop ]; do
    mdadm --build /dev/md/race-a --level=1 --raid-disks=2 /dev/mapper/race-a missing
    mdadm --build /dev/md/race-b --level=1 --raid-disks=2 /dev/mapper/race-b missing
    mdadm --stop /dev/md/race-a; mdadm --stop /dev/md/race-b
  done ) >/dev/null 2>&1 &
n=0; missed=0; end=$(( $(date +%s) + 300 ))
while [ "$n" -lt "$want" ] && [ "$(date +%s)" -lt "$end" ]; do
  n=$((n+1))
  out=$(sh -c "$probe" sanshift-probe state /dev/md/race-keep)
  case "\${out#*#mdstat}" in *"$keep : active"*) ;; *) missed=$((missed+1));; esac
done
touch /run/race-stop; wait
mdadm --stop /dev/md/race-keep >/dev/null 2>&1
for d in race-keep race-a race-b; do dmsetup remove "$d"; done
rm -f /run/race-stop
echo "$n probes, $missed without $keep"`;

const OWNER = 'capture-run@lab:1';
const OTHER = 'other-run@elsewhere:2';

export const mdCaptures: Scenario = {
  id: 'p',
  // opt-in (npm run test:lab:full): CI's 20 minutes hold a-j and m; see docs/lab.md
  optIn: true,
  // its captures and checks read the host's whole md state: no other scenario's arrays beside
  wholeHost: 'A',
  title: 'host scripts captured for the simulated host; the md page-cache hazard and its fix; the probe sees every array while others stop',
  tenants: ['vm3'],
  async run(ctx) {
    const { lab } = ctx;
    const vm3 = { mirror: '/dev/md/ss-vm3-vda', old: '/dev/mapper/old-vm3', new: '/dev/mapper/new-vm3' };
    const paths = [vm3.mirror, vm3.old, vm3.new];
    // vm3 off: nothing but this scenario touches its volumes
    await lab.virsh(['destroy', 'vm3']);
    const save = async (name: string, shown: string, argv: string[]): Promise<string> => {
      const r = await lab.ssh(argv);
      capture(`${name}.txt`, `$ ${shown}\n${r.stdout}${r.stderr}[exit ${r.exitCode}]\n`);
      return r.stdout;
    };
    const act = (name: string, acts: MdAction[], lease?: { owner: string; vm: string }): Promise<string> =>
      save(name, `sh -c MD_ACT_SCRIPT sanshift-md ${lease === undefined ? '- - 0' : `${lease.owner} ${lease.vm} 600`} ${acts.map((a) => `${a.verb} ${a.mirror} ${a.old} ${a.new} ${a.speedKiBs ?? '-'}`).join(' ')}`, mdActArgv(acts, lease === undefined ? undefined : { ...lease, ttlSeconds: 600 }));
    const lease = (name: string, op: 'acquire' | 'release', owner: string): Promise<string> =>
      save(name, `sh -c LEASE_SCRIPT sanshift-lease ${op} ${owner} ${op === 'release' ? 0 : 600} vm3`, leaseArgv(op, owner, op === 'release' ? 0 : 600, ['vm3']));

    await lab.ssh(['rm', '-f', '/run/lock/sanshift/vm-vm3.lease']);
    await save('probe-full-free', `sh -c PROBE_SCRIPT sanshift-probe full ${paths.join(' ')}`, probeArgv('full', paths));
    ctx.check('a lease is taken', /^held vm3$/m.test(await lease('lease-acquire', 'acquire', OWNER)));
    ctx.check('another run is refused, with the owner and the seconds left', /^busy vm3 capture-run@lab:1 \d+$/m.test(await lease('lease-busy', 'acquire', OTHER)));
    const built = await act('md-act-build', [{ verb: 'build', ...vm3, speedKiBs: 1000 }], { owner: OWNER, vm: 'vm3' });
    ctx.check('the build under the lease succeeds', /^ok build \/dev\/md\/ss-vm3-vda /m.test(built));
    await act('md-act-build-again', [{ verb: 'build', ...vm3, speedKiBs: 1000 }], { owner: OWNER, vm: 'vm3' });
    const refused = await act('md-act-not-owner', [{ verb: 'stop', ...vm3 }], { owner: OTHER, vm: 'vm3' });
    ctx.check('an md action of a run that does not hold the lease does nothing', /^fail owner - not-owner /m.test(refused) && /^md\d+ : active/m.test(await lab.mdstat()));

    // The page-cache hazard: a buffered read of the one-legged mirror while something holds it
    // open (udev's probe does this when the array appears) keeps its pages; the VM, still on
    // OLD, then writes OLD directly; a later buffered read of the mirror returns the old pages
    // until they are dropped (what flush-mirrors does before the start on the mirror).
    const hazard = await lab.ssh(['bash', '-c', [
      'set -e',
      'md=/dev/md/ss-vm3-vda; old=/dev/mapper/old-vm3',
      'exec 3<$md; sleep 300 <&3 & holder=$!',
      'before=$(dd if=$md bs=1M skip=10 count=1 status=none | sha256sum | cut -c1-16)',
      'head -c 1048576 /dev/urandom | dd of=$old bs=1M seek=10 count=1 iflag=fullblock oflag=direct conv=notrunc status=none',
      'fresh=$(dd if=$old bs=1M skip=10 count=1 iflag=direct status=none | sha256sum | cut -c1-16)',
      'cached=$(dd if=$md bs=1M skip=10 count=1 status=none | sha256sum | cut -c1-16)',
      'blockdev --flushbufs $md',
      'flushed=$(dd if=$md bs=1M skip=10 count=1 status=none | sha256sum | cut -c1-16)',
      'kill $holder; exec 3<&-',
      'echo "before=$before fresh=$fresh cached=$cached flushed=$flushed"',
    ].join('\n')]);
    const h = Object.fromEntries([...hazard.stdout.matchAll(/(\w+)=(\w+)/g)].map((m) => [m[1]!, m[2]!]));
    ctx.say(`page cache of ${vm3.mirror}: ${hazard.stdout.trim()}`);
    ctx.check(`a buffered read of the mirror returns the pages cached before OLD was written directly (${hazard.stderr.trim()})`, hazard.exitCode === 0 && h['cached'] === h['before'] && h['cached'] !== h['fresh']);
    ctx.check('after blockdev --flushbufs the mirror reads what OLD holds', h['flushed'] === h['fresh']);
    ctx.dirtied.push({ volume: 'old-vm3', atMiB: 10, countMiB: 1 });

    await act('md-act-flush-add', [{ verb: 'flush', ...vm3 }, { verb: 'add', ...vm3, speedKiBs: 1000 }], { owner: OWNER, vm: 'vm3' });
    await lab.ssh(['dd', 'if=/dev/zero', `of=${vm3.mirror}`, 'bs=1M', 'count=1', 'seek=20', 'oflag=direct', 'status=none']);
    await lab.ssh(['dd', 'if=/dev/zero', `of=${vm3.old}`, 'bs=1M', 'count=1', 'seek=30', 'oflag=direct', 'status=none']);
    ctx.dirtied.push({ volume: 'old-vm3', atMiB: 20, countMiB: 1 }, { volume: 'old-vm3', atMiB: 30, countMiB: 1 });
    await save('probe-state-recovering-written-around', `sh -c PROBE_SCRIPT sanshift-probe state ${paths.join(' ')}  # after 1 MiB through the mirror and 1 MiB straight to OLD`, probeArgv('state', paths));
    await act('md-act-stop', [{ verb: 'stop', ...vm3 }], { owner: OWNER, vm: 'vm3' });
    await act('md-act-stop-again', [{ verb: 'stop', ...vm3 }], { owner: OWNER, vm: 'vm3' });
    // a name taken by an array that is not this VM's: over a scratch dm device
    await lab.guestRun(['dmsetup', 'create', 'capture-other', '--table', '0 65536 zero']);
    await lab.guestRun(['mdadm', '--build', vm3.mirror, '--level', '1', '--raid-disks=2', '/dev/mapper/capture-other', 'missing']);
    await act('md-act-name-taken', [{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]);
    await lab.guestRun(['mdadm', '--stop', vm3.mirror]);
    await lab.guestRun(['dmsetup', 'remove', 'capture-other']);
    // NEW held by a device-mapper table (a partition map on a multipath host)
    await lab.guestRun(['dmsetup', 'create', 'capture-holder', '--table', `0 100 linear ${vm3.new} 0`]);
    await act('md-act-new-held', [{ verb: 'build', ...vm3 }, { verb: 'add', ...vm3 }]);
    await lab.guestRun(['dmsetup', 'remove', 'capture-holder']);
    await act('md-act-cleanup-stop', [{ verb: 'stop', ...vm3 }]);
    // The probe's /proc/mdstat while other arrays come and go (another VM's T2 beside this
    // VM's poll), over scratch dm devices: read by the shell a byte at a time, the kernel's list
    // shifted under it and hid the steady array (9 of 342 and 14 of 212 probes in the lab on
    // 2026-12-01); read in one go, never. 200 probes: the old script would pass by luck about
    // once in 200 to 10^6 runs at those rates.
    const race = await lab.ssh(['bash', '-c', PROBE_RACE, 'probe-race', probeArgv('state', [])[2]!, '200'], { timeoutMs: 360_000 });
    const seen = /^(\d+) probes, (\d+) without md\d+$/m.exec(race.stdout);
    ctx.check(`every probe lists a steady array while two others are built and stopped beside it (${race.stdout.trim()}${race.stderr.trim()})`, seen !== null && Number(seen[1]) >= 200 && seen[2] === '0');
    ctx.check('the lease is released', /^released vm3$/m.test(await lease('lease-release', 'release', OWNER)));
    ctx.check('no array is left', !/^md\d+ : active/m.test(await lab.mdstat()));
  },
};
