/**
 * The headline models (FinalNet, ResNet50), generated on demand with the generators in the shared
 * folder beside the project (`../shared/models/<model>/make_<model>.py`, run with Debian's
 * `/usr/bin/python3` and python3-torch / python3-onnx / python3-numpy) and cached under
 * `.cache/models/` so tests and benchmarks generate each model once.
 */
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { packageRoot } from '../src/core/package.js';

/** The shared folder: `$NEREID_SHARED`, else `../shared` beside the project root. */
export function sharedDir(): string {
  return process.env.NEREID_SHARED ?? path.resolve(packageRoot(), '..', 'shared');
}

/** The Python that has torch and onnx: `$NEREID_MODEL_PYTHON`, else Debian's `/usr/bin/python3`. */
export function modelPython(): string {
  return process.env.NEREID_MODEL_PYTHON ?? '/usr/bin/python3';
}

/** Why the generators cannot run here, or undefined when they can. */
export function generatorProblem(): string | undefined {
  if (!fs.existsSync(path.join(sharedDir(), 'models')))
    return `no generators at ${path.join(sharedDir(), 'models')}`;
  try {
    execFileSync(modelPython(), ['-c', 'import torch, onnx, numpy'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return `${modelPython()} cannot import torch, onnx and numpy (apt-get install python3-torch python3-onnx python3-numpy)`;
  }
}

/**
 * Runs `generate` unless `target` exists, once across processes: the first process to create
 * `<target>.lock` generates, the others wait (up to 10 minutes) for `target` to appear. A lock older
 * than 10 minutes is taken as left by a crashed run and removed.
 * @throws Error from `generate`, or when the wait times out.
 */
function generateOnce(target: string, generate: () => void): void {
  if (fs.existsSync(target)) return;
  fs.mkdirSync(path.dirname(target), { recursive: true });
  const lock = `${target}.lock`;
  const sleep = new Int32Array(new SharedArrayBuffer(4));
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    try {
      fs.closeSync(fs.openSync(lock, 'wx'));
      break;
    } catch {
      if (fs.existsSync(target)) return;
      try {
        if (Date.now() - fs.statSync(lock).mtimeMs > 10 * 60_000) fs.rmSync(lock, { force: true });
      } catch {
        /* the lock went away meanwhile */
      }
      if (Date.now() > deadline)
        throw new Error(`timed out waiting for another process to generate ${target}`);
      Atomics.wait(sleep, 0, 0, 200);
    }
  }
  try {
    if (!fs.existsSync(target)) generate();
  } finally {
    fs.rmSync(lock, { force: true });
  }
}

/**
 * A Triton model folder for `FinalNet_onnx` (config.pbtxt from the shared folder, `1/model.onnx`,
 * `1/reference.json`), generated on first use (~20 s) into `.cache/models/FinalNet_onnx`.
 * @returns the model folder; copy or link it into a repository as `FinalNet_onnx`.
 * @throws Error when the generator cannot run (see generatorProblem).
 */
export function ensureFinalNet(): string {
  const dir = path.join(packageRoot(), '.cache', 'models', 'FinalNet_onnx');
  const model = path.join(dir, '1', 'model.onnx');
  const reference = path.join(dir, '1', 'reference.json');
  generateOnce(model, () => {
    const problem = generatorProblem();
    if (problem) throw new Error(`cannot generate FinalNet: ${problem}`);
    const tmp = `${model}.${process.pid}.tmp`;
    const tmpRef = `${reference}.${process.pid}.tmp`;
    execFileSync(
      modelPython(),
      [path.join(sharedDir(), 'models', 'finalnet', 'make_finalnet.py'), '--out', tmp, '--reference', tmpRef],
      { stdio: 'inherit' },
    );
    fs.renameSync(tmpRef, reference);
    fs.renameSync(tmp, model);
  });
  installConfig(path.join(sharedDir(), 'models', 'finalnet', 'config.pbtxt'), path.join(dir, 'config.pbtxt'));
  return dir;
}

/**
 * Puts the shared `config.pbtxt` into a cached model folder atomically (write aside, then rename),
 * so a test process reading it while another one installs it never sees a half-written file.
 */
function installConfig(from: string, to: string): void {
  const text = fs.readFileSync(from);
  if (fs.existsSync(to) && fs.readFileSync(to).equals(text)) return;
  const tmp = `${to}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, to);
}

/**
 * A Triton model folder for `resnet50_onnx` (the shared config.pbtxt and `1/model.onnx`), generated
 * on first use (~30 s; needs python3-torchvision too) into `.cache/models/resnet50_onnx`.
 * @throws Error when the generator cannot run.
 */
export function ensureResNet50(): string {
  const dir = path.join(packageRoot(), '.cache', 'models', 'resnet50_onnx');
  const model = path.join(dir, '1', 'model.onnx');
  generateOnce(model, () => {
    const problem = generatorProblem();
    if (problem) throw new Error(`cannot generate ResNet50: ${problem}`);
    const tmp = `${model}.${process.pid}.tmp`;
    execFileSync(
      modelPython(),
      [path.join(sharedDir(), 'models', 'resnet50', 'make_resnet50.py'), '--out', tmp],
      {
        stdio: 'inherit',
      },
    );
    fs.renameSync(tmp, model);
  });
  installConfig(path.join(sharedDir(), 'models', 'resnet50', 'config.pbtxt'), path.join(dir, 'config.pbtxt'));
  return dir;
}

/** Links (symlinks) a model folder into `repo` under `name`. */
export function linkModel(repo: string, name: string, modelDir: string): void {
  fs.mkdirSync(repo, { recursive: true });
  fs.symlinkSync(modelDir, path.join(repo, name), 'dir');
}
