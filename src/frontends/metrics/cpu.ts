/**
 * CPU utilization and memory from /proc, as Triton's core reads them (core `src/metrics.cc`
 * `ParseCpuInfo`/`ParseMemInfo`): utilization is busy ÷ (busy + idle) jiffies of the aggregate `cpu`
 * line of /proc/stat between two samples (busy = user + nice + system + irq + softirq + steal, idle =
 * idle + iowait); memory used = MemTotal − MemAvailable of /proc/meminfo, in bytes.
 */
import * as fs from 'node:fs/promises';

/** Busy and idle jiffies of the aggregate CPU line. */
export interface CpuTimes {
  busy: number;
  idle: number;
}

/** Parses the aggregate `cpu ` line of /proc/stat. @throws Error when it is missing or malformed. */
export function parseProcStat(text: string): CpuTimes {
  const line = text.split('\n', 1)[0];
  if (!line.startsWith('cpu ')) throw new Error('Failed to find aggregate CPU info in /proc/stat.');
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((v) => !Number.isFinite(v))) {
    throw new Error('Failed to parse aggregate CPU info in /proc/stat.');
  }
  const [user, nice, system, idle, iowait = 0, irq = 0, softirq = 0, steal = 0] = f;
  return { busy: user + nice + system + irq + softirq + steal, idle: idle + iowait };
}

/** Total and used memory in bytes from /proc/meminfo. @throws Error when MemTotal/MemAvailable are missing. */
export function parseMeminfo(text: string): { totalBytes: number; usedBytes: number } {
  const kb = (key: string) => {
    const m = new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text);
    if (!m) throw new Error('Failed to find desired values in /proc/meminfo.');
    return Number(m[1]) * 1024;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  if (available > total) throw new Error('Available bytes should not be greater than total bytes');
  return { totalBytes: total, usedBytes: total - available };
}

/** CPU utilization in [0, 1] between two samples (0 when no time passed). */
export function utilization(prev: CpuTimes, now: CpuTimes): number {
  const busy = now.busy - prev.busy;
  const total = busy + (now.idle - prev.idle);
  return total > 0 ? Math.min(1, Math.max(0, busy / total)) : 0;
}

/** One sample of the CPU gauges. */
export interface CpuSample {
  utilization: number;
  totalBytes: number;
  usedBytes: number;
}

/** Reads /proc every time it is sampled, keeping the previous CPU times for utilization. */
export class CpuSampler {
  private prev: CpuTimes | undefined;

  /** Takes a sample. @throws Error when /proc cannot be read (e.g. not Linux). */
  async sample(): Promise<CpuSample> {
    const [stat, mem] = await Promise.all([
      fs.readFile('/proc/stat', 'utf8'),
      fs.readFile('/proc/meminfo', 'utf8'),
    ]);
    const now = parseProcStat(stat);
    const util = this.prev ? utilization(this.prev, now) : 0;
    this.prev = now;
    return { utilization: util, ...parseMeminfo(mem) };
  }
}
