/**
 * `nereid setup gpu`: the optional step that makes ONNX Runtime GPU-capable (see
 * src/backends/onnxruntime/gpu-setup.ts for what it installs and checks).
 */
import { Command } from 'commander';
import {
  checkGpuSetup,
  formatGpuCheck,
  GPU_PACKAGE,
  installGpuProviders,
} from '../backends/onnxruntime/gpu-setup.js';

/** The `setup` command and its `gpu` subcommand. */
export function setupCommand(): Command {
  const setup = new Command('setup').description('optional installation steps');
  setup
    .command('gpu')
    .description(
      `install ONNX Runtime's CUDA and TensorRT execution providers (from the npm package ${GPU_PACKAGE}, ` +
        'about 180 MB) next to onnxruntime-node, then check the NVIDIA libraries and GPUs they need. ' +
        'Exit status 0 when the CUDA execution provider can run, 1 when something is missing (listed), ' +
        '2 when the installation failed',
    )
    .option('--check', 'only check, install nothing')
    .option('--from <file.tgz>', `install from a tarball of ${GPU_PACKAGE} already on this machine`)
    .option(
      '--library-dir <dir>',
      "where the provider libraries go (default: onnxruntime-node's own library folder, where ONNX Runtime loads them from)",
    )
    .action((o: { check?: boolean; from?: string; libraryDir?: string }) => {
      if (!o.check) {
        try {
          installGpuProviders({ from: o.from, libraryDir: o.libraryDir, log: (l) => console.log(l) });
        } catch (e) {
          console.error(`error: ${(e as Error).message}`);
          process.exitCode = 2;
          return;
        }
      }
      const check = checkGpuSetup(o.libraryDir);
      for (const line of formatGpuCheck(check)) console.log(line);
      process.exitCode = check.cudaReady ? 0 : 1;
    });
  return setup;
}
