/**
 * `nereid setup gpu`: makes onnxruntime-node CUDA- and TensorRT-capable from npm alone, and checks
 * that the NVIDIA libraries those providers load can be found.
 *
 * onnxruntime-node from npm bundles only the CPU provider (its postinstall would fetch the GPU ones
 * from outside npm). Microsoft's official ORT 1.29.0 provider libraries built for CUDA 13
 * (`libonnxruntime_providers_shared.so`, `_cuda.so`, `_tensorrt.so`) are published on npm inside
 * `com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9`; copied next to onnxruntime-node 1.29.0's core
 * library they make a CUDA-capable ORT. Providers must match the core library's exact version, so
 * the step refuses any other onnxruntime-node version. A CPU install never runs it.
 *
 * The provider libraries need the CUDA 13 runtime, cuBLAS and cuDNN 9 (and TensorRT 10 for the
 * TensorRT provider) at run time; the check looks for them where the dynamic loader will (the
 * `ldconfig` cache, `LD_LIBRARY_PATH`) and where they often are but the loader will not look
 * (`/usr/local/cuda*`, the `nvidia/<package>/lib` folders of Python environments), and prints
 * exactly what is missing and the `LD_LIBRARY_PATH` that would make found-but-hidden ones load.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { createRequire } from 'node:module';
import * as os from 'node:os';
import * as path from 'node:path';
import { listGpus } from '../../core/gpu.js';
import { ortLibraryDir } from './session-options.js';

/** The npm package that carries the provider libraries, and the ORT version they were built for. */
export const GPU_PACKAGE = 'com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9';
export const GPU_ORT_VERSION = '1.29.0';
/** The provider libraries the step installs. */
export const PROVIDER_LIBRARIES = [
  'libonnxruntime_providers_shared.so',
  'libonnxruntime_providers_cuda.so',
  'libonnxruntime_providers_tensorrt.so',
];

/** A shared library the providers load at run time. */
export interface NeededLibrary {
  /** SONAME, e.g. `libcudart.so.13`. */
  soname: string;
  /** What it is, for the report (e.g. "CUDA 13 runtime"). */
  what: string;
  /** True when only the TensorRT provider needs it. */
  tensorRtOnly: boolean;
}

/**
 * The NVIDIA libraries of ORT 1.29.0's CUDA 13 providers: the `NEEDED` entries of
 * `libonnxruntime_providers_cuda.so` / `_tensorrt.so`, plus cuDNN, which the CUDA provider opens
 * when it first runs a convolution.
 */
export const NEEDED_LIBRARIES: NeededLibrary[] = [
  { soname: 'libcuda.so.1', what: 'NVIDIA driver', tensorRtOnly: false },
  { soname: 'libcudart.so.13', what: 'CUDA 13 runtime', tensorRtOnly: false },
  { soname: 'libcublas.so.13', what: 'cuBLAS for CUDA 13', tensorRtOnly: false },
  { soname: 'libcublasLt.so.13', what: 'cuBLASLt for CUDA 13', tensorRtOnly: false },
  { soname: 'libcurand.so.10', what: 'cuRAND for CUDA 13', tensorRtOnly: false },
  { soname: 'libcudnn.so.9', what: 'cuDNN 9', tensorRtOnly: false },
  { soname: 'libnvinfer.so.10', what: 'TensorRT 10', tensorRtOnly: true },
  { soname: 'libnvonnxparser.so.10', what: 'TensorRT 10 ONNX parser', tensorRtOnly: true },
];

/** Where one needed library was found. */
export interface LibraryStatus extends NeededLibrary {
  /** Full path, or undefined when not found anywhere. */
  path?: string;
  /** True when the dynamic loader finds it as things are (ldconfig cache or LD_LIBRARY_PATH). */
  loadable: boolean;
}

/** The outcome of the check. */
export interface GpuCheck {
  /** onnxruntime-node's version and whether it is the one the providers match. */
  ortVersion: string;
  ortVersionOk: boolean;
  /** The folder the provider libraries belong in. */
  libraryDir: string;
  /** Provider libraries missing from `libraryDir`. */
  missingProviders: string[];
  libraries: LibraryStatus[];
  /** NVIDIA GPUs seen by `nvidia-smi`, or the reason there are none. */
  gpus: string[];
  gpuReason?: string;
  /** Folders to add to LD_LIBRARY_PATH so that found-but-hidden libraries load. */
  extraLibraryDirs: string[];
  /** True when CUDA instances can run (TensorRT ones need `tensorRtReady` too). */
  cudaReady: boolean;
  tensorRtReady: boolean;
}

/** onnxruntime-node's installed version. */
export function ortVersion(): string {
  const require = createRequire(import.meta.url);
  return (require('onnxruntime-node/package.json') as { version: string }).version;
}

/** SONAME → path of the libraries in the `ldconfig -p` cache. */
function ldconfigCache(): Map<string, string> {
  const out = new Map<string, string>();
  for (const bin of ['/sbin/ldconfig', '/usr/sbin/ldconfig', 'ldconfig']) {
    try {
      const text = execFileSync(bin, ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      for (const line of text.split('\n')) {
        const m = /^\s*(\S+) \(.*\) => (\S+)$/.exec(line);
        if (m && !out.has(m[1])) out.set(m[1], m[2]);
      }
      return out;
    } catch {
      /* try the next location */
    }
  }
  return out;
}

/** `site-packages`/`dist-packages` folders of the Python environments on this machine. */
function pythonSitePackages(): string[] {
  const dirs = new Set<string>();
  const script = 'import site,sys; print("\\n".join(site.getsitepackages()+[site.getusersitepackages()]))';
  for (const python of ['/usr/bin/python3', 'python3']) {
    try {
      const text = execFileSync(python, ['-c', script], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
        timeout: 10_000,
      });
      for (const d of text.split('\n')) if (d.trim()) dirs.add(d.trim());
    } catch {
      /* no such interpreter */
    }
  }
  for (const env of [process.env.VIRTUAL_ENV, process.env.CONDA_PREFIX]) {
    if (!env) continue;
    const lib = path.join(env, 'lib');
    if (!fs.existsSync(lib)) continue;
    for (const py of fs.readdirSync(lib).filter((n) => n.startsWith('python'))) {
      dirs.add(path.join(lib, py, 'site-packages'));
    }
  }
  return [...dirs];
}

/** Folders that often hold the NVIDIA libraries without the loader looking there. */
function candidateDirs(): string[] {
  const dirs: string[] = [];
  for (const root of ['/usr/local', '/opt']) {
    let names: string[] = [];
    try {
      names = fs
        .readdirSync(root)
        .filter((n) => n === 'cuda' || n.startsWith('cuda-') || n.startsWith('TensorRT'));
    } catch {
      /* no such folder */
    }
    for (const n of names) {
      dirs.push(
        path.join(root, n, 'lib64'),
        path.join(root, n, 'lib'),
        path.join(root, n, 'targets', 'x86_64-linux', 'lib'),
      );
    }
  }
  dirs.push('/usr/lib/x86_64-linux-gnu');
  for (const site of pythonSitePackages()) {
    const nv = path.join(site, 'nvidia');
    let pkgs: string[] = [];
    try {
      pkgs = fs.readdirSync(nv);
    } catch {
      continue;
    }
    for (const p of pkgs) dirs.push(path.join(nv, p, 'lib'));
    dirs.push(path.join(site, 'tensorrt_libs'), path.join(site, 'tensorrt'));
  }
  return dirs;
}

/**
 * Checks what GPU execution needs: the onnxruntime-node version, the provider libraries in its
 * folder, the NVIDIA libraries they load, and the GPUs.
 * @param libraryDir where the provider libraries should be (default: onnxruntime-node's folder).
 */
export function checkGpuSetup(libraryDir = ortLibraryDir()): GpuCheck {
  const version = ortVersion();
  const missingProviders = PROVIDER_LIBRARIES.filter((f) => !fs.existsSync(path.join(libraryDir, f)));
  const cache = ldconfigCache();
  const ldPath = (process.env.LD_LIBRARY_PATH ?? '').split(':').filter((d) => d !== '');
  const candidates = candidateDirs();
  const extra = new Set<string>();
  const libraries = NEEDED_LIBRARIES.map((lib): LibraryStatus => {
    const inLdPath = ldPath.map((d) => path.join(d, lib.soname)).find((p) => fs.existsSync(p));
    if (inLdPath) return { ...lib, path: inLdPath, loadable: true };
    const cached = cache.get(lib.soname);
    if (cached) return { ...lib, path: cached, loadable: true };
    const hidden = candidates.map((d) => path.join(d, lib.soname)).find((p) => fs.existsSync(p));
    if (hidden) extra.add(path.dirname(hidden));
    return { ...lib, path: hidden, loadable: false };
  });
  const inventory = listGpus();
  const ortVersionOk = version === GPU_ORT_VERSION;
  const cudaLibs = libraries.filter((l) => !l.tensorRtOnly).every((l) => l.path !== undefined);
  const cudaReady =
    ortVersionOk &&
    !missingProviders.includes('libonnxruntime_providers_shared.so') &&
    !missingProviders.includes('libonnxruntime_providers_cuda.so') &&
    cudaLibs &&
    inventory.gpus.length > 0;
  const tensorRtReady =
    cudaReady &&
    !missingProviders.includes('libonnxruntime_providers_tensorrt.so') &&
    libraries.every((l) => l.path !== undefined);
  return {
    ortVersion: version,
    ortVersionOk,
    libraryDir,
    missingProviders,
    libraries,
    gpus: inventory.gpus.map((g) => `${g.index}: ${g.name} (${g.uuid})`),
    gpuReason: inventory.reason,
    extraLibraryDirs: [...extra],
    cudaReady,
    tensorRtReady,
  };
}

/** The check as the lines `nereid setup gpu` prints (✓ found, ✗ missing, ! found but hidden). */
export function formatGpuCheck(c: GpuCheck): string[] {
  const lines: string[] = [];
  lines.push(
    c.ortVersionOk
      ? `✓ onnxruntime-node ${c.ortVersion} (the providers are built for ${GPU_ORT_VERSION})`
      : `✗ onnxruntime-node ${c.ortVersion}: the GPU providers are built for exactly ${GPU_ORT_VERSION}; install onnxruntime-node@${GPU_ORT_VERSION}`,
  );
  for (const f of PROVIDER_LIBRARIES) {
    lines.push(
      c.missingProviders.includes(f)
        ? `✗ ${f} is missing from ${c.libraryDir} (run \`nereid setup gpu\` without --check to install it)`
        : `✓ ${f} in ${c.libraryDir}`,
    );
  }
  for (const l of c.libraries) {
    const name = `${l.soname} (${l.what}${l.tensorRtOnly ? ', TensorRT provider only' : ''})`;
    if (!l.path) lines.push(`✗ ${name} was not found`);
    else if (!l.loadable) lines.push(`! ${name} is at ${l.path}, where the loader does not look`);
    else lines.push(`✓ ${name} at ${l.path}`);
  }
  if (c.gpus.length > 0) for (const g of c.gpus) lines.push(`✓ GPU ${g}`);
  else lines.push(`✗ no GPU: ${c.gpuReason ?? 'none found'}`);
  if (c.extraLibraryDirs.length > 0) {
    const current = process.env.LD_LIBRARY_PATH ? ':$LD_LIBRARY_PATH' : '';
    lines.push(`Start Nereid with: export LD_LIBRARY_PATH=${c.extraLibraryDirs.join(':')}${current}`);
  }
  lines.push(
    c.cudaReady
      ? `CUDA execution provider: ready${c.tensorRtReady ? '; TensorRT execution provider: ready' : '; TensorRT execution provider: not ready'}`
      : 'CUDA execution provider: not ready (see ✗ above)',
  );
  return lines;
}

/**
 * Installs the provider libraries: downloads the npm package (`npm pack`, about 180 MB) unless
 * `from` names a tarball of it already here, and copies the three libraries into `libraryDir`.
 * @returns the installed files' paths.
 * @throws Error when onnxruntime-node is not 1.29.0, npm or tar fail, or the tarball lacks a library.
 */
export function installGpuProviders(
  options: { from?: string; libraryDir?: string; log?: (line: string) => void } = {},
): string[] {
  const log = options.log ?? (() => {});
  const libraryDir = options.libraryDir ?? ortLibraryDir();
  const version = ortVersion();
  if (version !== GPU_ORT_VERSION) {
    throw new Error(
      `onnxruntime-node ${version} is installed, but the GPU providers of ${GPU_PACKAGE} are built for exactly ${GPU_ORT_VERSION}`,
    );
  }
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'nereid-gpu-'));
  try {
    let tarball = options.from;
    if (!tarball) {
      log(`downloading ${GPU_PACKAGE} from the npm registry (about 180 MB)…`);
      const name = execFileSync('npm', ['pack', GPU_PACKAGE, '--pack-destination', work, '--silent'], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      })
        .trim()
        .split('\n')
        .pop()!;
      tarball = path.join(work, name);
    }
    const entries = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 })
      .split('\n')
      .filter((e) => e !== '');
    const wanted = PROVIDER_LIBRARIES.map((f) => {
      const entry = entries.find((e) => path.posix.basename(e) === f && e.includes('/Linux/x64/'));
      if (!entry) throw new Error(`${tarball} does not contain Linux/x64/${f}`);
      return entry;
    });
    execFileSync('tar', ['-xzf', tarball, '-C', work, ...wanted]);
    fs.mkdirSync(libraryDir, { recursive: true });
    return wanted.map((entry) => {
      const dest = path.join(libraryDir, path.posix.basename(entry));
      fs.copyFileSync(path.join(work, entry), dest);
      log(`installed ${dest}`);
      return dest;
    });
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
}
