// Loaded with `node --import` into the processes of `bin/sanshift.js` (the launcher passes its
// own flags to the child it starts): at exit each appends its peak RSS, CPU time and JS heap
// to the file named by SANSHIFT_BENCH_FIGURES, so bench/fleet-path.ts sees the command's
// real process, launcher and pool and pipe included, rather than a main() called in the bench.
import { appendFileSync } from 'node:fs';

const file = process.env.SANSHIFT_BENCH_FIGURES;
if (file !== undefined) {
  process.on('exit', () => {
    const cpu = process.cpuUsage();
    const memory = process.memoryUsage();
    const line = {
      pid: process.pid,
      pool: process.env.UV_THREADPOOL_SIZE ?? null,
      peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
      cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      endHeapUsedMB: Math.round(memory.heapUsed / 1048576),
      endHeapTotalMB: Math.round(memory.heapTotal / 1048576),
      endRssMB: Math.round(memory.rss / 1048576),
    };
    appendFileSync(file, `${JSON.stringify(line)}\n`);
  });
}
