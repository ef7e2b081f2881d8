/**
 * The memory this process may use: its cgroup's limit (a container's memory limit, or systemd's
 * MemoryMax), or the machine's memory where no limit is set. Exported as the gauge
 * `kong_log_relay_memory_limit_bytes`, so an alert can compare RSS with it without
 * kube-state-metrics or cAdvisor.
 */
import { readFileSync } from 'node:fs';
import { totalmem } from 'node:os';

/** cgroup v1 reports "no limit" as a page-rounded 2^63 - 1. */
const V1_UNLIMITED = 2 ** 60;

export function memoryLimitBytes(): number {
  const v2 = read('/sys/fs/cgroup/memory.max');
  if (v2 !== null && /^\d+$/.test(v2)) return Math.min(Number(v2), totalmem());
  const v1 = read('/sys/fs/cgroup/memory/memory.limit_in_bytes');
  if (v1 !== null && /^\d+$/.test(v1) && Number(v1) < V1_UNLIMITED) return Math.min(Number(v1), totalmem());
  return totalmem();
}

function read(file: string): string | null {
  try {
    return readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
}
