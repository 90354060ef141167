/**
 * NVIDIA GPUs of this machine, read through `nvidia-smi` (NVML's command-line front end, installed
 * with the driver), for instance placement (KIND_GPU / KIND_AUTO) and the GPU metrics.
 *
 * Triton reads NVML through DCGM; Nereid asks `nvidia-smi --query-gpu=...`, which needs no native
 * binding and reports the same figures. Without a driver (no `nvidia-smi`, or it fails) the machine
 * has no GPU and every function here answers accordingly, never throws.
 */
import { execFile, execFileSync } from 'node:child_process';

/** One GPU as `nvidia-smi` reports it. */
export interface GpuInfo {
  /** CUDA device index (what `gpus: [ ... ]` in an instance group and `deviceId` refer to). */
  index: number;
  /** `GPU-xxxxxxxx-...`, the `gpu_uuid` label of Triton's GPU metrics. */
  uuid: string;
  /** Product name, e.g. `NVIDIA H100 80GB HBM3`. */
  name: string;
  /** Total memory in bytes. */
  memoryTotalBytes: number;
}

/** One sample of a GPU's state (the figures behind Triton's `nv_gpu_*` metrics). */
export interface GpuSample {
  uuid: string;
  /** Utilization over the driver's last sample period, 0.0–1.0 (`nv_gpu_utilization`). */
  utilization: number;
  /** Bytes (`nv_gpu_memory_total_bytes`, `nv_gpu_memory_used_bytes`). */
  memoryTotalBytes: number;
  memoryUsedBytes: number;
  /** Watts (`nv_gpu_power_usage`, `nv_gpu_power_limit`); 0 when the board does not report it. */
  powerUsageWatts: number;
  powerLimitWatts: number;
}

/** What `listGpus` found, with the reason when there is none. */
export interface GpuInventory {
  gpus: GpuInfo[];
  /** Why no GPU is usable (e.g. `nvidia-smi was not found`); undefined when `gpus` is not empty. */
  reason?: string;
}

const MIB = 1024 * 1024;
let cached: GpuInventory | undefined;

/** Parses a number field of `nvidia-smi --format=csv,noheader,nounits` ("[N/A]" and the like → 0). */
function num(field: string | undefined): number {
  const n = Number((field ?? '').trim());
  return Number.isFinite(n) ? n : 0;
}

/**
 * Parses `nvidia-smi --query-gpu=index,uuid,name,memory.total --format=csv,noheader,nounits`.
 * @param text the command's output, one GPU per line (memory in MiB).
 */
export function parseGpuList(text: string): GpuInfo[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [index, uuid, name, memory] = l.split(',').map((f) => f.trim());
      return { index: num(index), uuid, name, memoryTotalBytes: num(memory) * MIB };
    });
}

/**
 * Parses `nvidia-smi --query-gpu=uuid,utilization.gpu,memory.total,memory.used,power.draw,power.limit
 * --format=csv,noheader,nounits` (utilization in %, memory in MiB, power in W).
 */
export function parseGpuSamples(text: string): GpuSample[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
    .map((l) => {
      const [uuid, util, total, used, draw, limit] = l.split(',').map((f) => f.trim());
      return {
        uuid,
        utilization: num(util) / 100,
        memoryTotalBytes: num(total) * MIB,
        memoryUsedBytes: num(used) * MIB,
        powerUsageWatts: num(draw),
        powerLimitWatts: num(limit),
      };
    });
}

/**
 * The GPUs of this machine (asked once, then remembered). `CUDA_VISIBLE_DEVICES`, when set, is
 * honoured as CUDA does: only the listed indices count, renumbered from 0.
 */
export function listGpus(): GpuInventory {
  if (cached) return cached;
  let gpus: GpuInfo[];
  try {
    const out = execFileSync(
      'nvidia-smi',
      ['--query-gpu=index,uuid,name,memory.total', '--format=csv,noheader,nounits'],
      { encoding: 'utf8', timeout: 10_000, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    gpus = parseGpuList(out);
  } catch (e) {
    const err = e as NodeJS.ErrnoException & { stderr?: string };
    const reason =
      err.code === 'ENOENT'
        ? 'no NVIDIA driver: nvidia-smi was not found'
        : `nvidia-smi failed: ${(err.stderr ?? err.message).toString().trim().split('\n')[0]}`;
    cached = { gpus: [], reason };
    return cached;
  }
  const visible = process.env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const wanted = visible
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== '');
    gpus = wanted
      .map((w) => gpus.find((g) => String(g.index) === w || g.uuid === w))
      .filter((g): g is GpuInfo => g !== undefined)
      .map((g, i) => ({ ...g, index: i }));
  }
  cached = gpus.length > 0 ? { gpus } : { gpus, reason: 'nvidia-smi lists no GPU' };
  return cached;
}

/**
 * Samples every GPU's utilization, memory and power (for the metrics frontend).
 * @returns an empty list when there is no GPU or `nvidia-smi` fails.
 */
export function sampleGpus(): Promise<GpuSample[]> {
  if (listGpus().gpus.length === 0) return Promise.resolve([]);
  return new Promise((resolve) => {
    execFile(
      'nvidia-smi',
      [
        '--query-gpu=uuid,utilization.gpu,memory.total,memory.used,power.draw,power.limit',
        '--format=csv,noheader,nounits',
      ],
      { encoding: 'utf8', timeout: 10_000 },
      (err, stdout) => resolve(err ? [] : parseGpuSamples(stdout)),
    );
  });
}
