// Whether a process still runs. A process that has exited but is not reaped yet (a zombie:
// pid 1 does not reap on these machines) has finished, so it does not count.
import fs from 'fs';

export function alive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(fs.readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}
