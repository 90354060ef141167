/**
 * Finds models in local model repositories laid out as Triton's
 * (server docs/user_guide/model_repository.md):
 *
 *   <repository>/<model>/config.pbtxt
 *   <repository>/<model>/[configs/<name>.pbtxt]
 *   <repository>/<model>/<version>/<model file>
 *
 * Version folders have numeric names (names starting with "0" are ignored); the model name is the
 * folder's name; `version_policy` picks the versions to serve (latest 1 by default).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseModelConfig } from '../config/index.js';
import type { ModelConfig } from '../protocol/model-config/types.js';

/** A model folder found in a repository. */
export interface ModelSource {
  /** Model name (folder name). */
  name: string;
  /** Repository path it was found in. */
  repository: string;
  /** `<repository>/<name>`. */
  dir: string;
}

/** A model's config and the versions its policy selects, or why it cannot be read. */
export interface ModelDefinition extends ModelSource {
  /** The parsed config (`name` filled in with the folder name; platform/backend normalised). */
  config: ModelConfig;
  /** Version numbers to load, ascending. */
  versions: number[];
}

/**
 * Lists the model folders of every repository. A name found in several repositories is reported
 * in `duplicates` and not in `models` (Triton refuses such models).
 * @throws Error when a repository path does not exist or is not a directory.
 */
export function listModels(repositories: string[]): { models: ModelSource[]; duplicates: ModelSource[] } {
  const byName = new Map<string, ModelSource[]>();
  for (const repo of repositories) {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(repo, { withFileTypes: true });
    } catch (e) {
      throw new Error(
        `failed to open model repository '${repo}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    for (const e of entries) {
      if (e.name.startsWith('.')) continue;
      const dir = path.join(repo, e.name);
      if (!(e.isDirectory() || (e.isSymbolicLink() && isDir(dir)))) continue;
      const list = byName.get(e.name) ?? [];
      list.push({ name: e.name, repository: repo, dir });
      byName.set(e.name, list);
    }
  }
  const models: ModelSource[] = [];
  const duplicates: ModelSource[] = [];
  for (const list of byName.values()) (list.length === 1 ? models : duplicates).push(...list);
  models.sort((a, b) => a.name.localeCompare(b.name));
  return { models, duplicates };
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Numeric version folders of a model, ascending (names must be digits not starting with 0). */
export function availableVersions(dir: string): number[] {
  return fs
    .readdirSync(dir, { withFileTypes: true })
    .filter((e) => /^[1-9][0-9]*$/.test(e.name) && (e.isDirectory() || isDir(path.join(dir, e.name))))
    .map((e) => Number(e.name))
    .filter((v) => Number.isSafeInteger(v))
    .sort((a, b) => a - b);
}

/**
 * Applies a `version_policy` to the available versions: `latest { num_versions }` (default 1),
 * `all {}`, or `specific { versions }` (only those present).
 */
export function selectVersions(available: number[], config: ModelConfig): number[] {
  const policy = config.version_policy;
  if (policy?.all) return available.slice();
  if (policy?.specific) return available.filter((v) => policy.specific!.versions.includes(v));
  const n = policy?.latest ? Math.max(1, policy.latest.num_versions) : 1;
  return available.slice(-n);
}

/** Backend guessed from the model files when a config names none (Triton's auto-complete does this). */
function guessBackend(dir: string, versions: number[]): string {
  for (const v of versions.slice().reverse()) {
    const files = fs.readdirSync(path.join(dir, String(v)));
    if (files.includes('model.onnx')) return 'onnxruntime';
    if (files.includes('model.py')) return 'python';
  }
  return '';
}

/**
 * Reads a model folder: its config (`config.pbtxt`, or `configs/<configName>.pbtxt` when that
 * exists, or `config` when given — the load API's `config` parameter) and the versions to load.
 * @param allowMissingConfig accept a folder without config.pbtxt (auto-complete fills it).
 * @param config a configuration to use instead of the folder's files.
 * @throws Error naming the file and the problem: unreadable or invalid config, a config `name`
 *   other than the folder's, no backend/platform, no version folder.
 */
export function readModel(
  source: ModelSource,
  opts: { configName?: string; allowMissingConfig: boolean; config?: ModelConfig },
): ModelDefinition {
  let file = path.join(source.dir, 'config.pbtxt');
  let config: ModelConfig;
  if (opts.config) {
    file = 'config'; // the load parameter's name, for messages
    config = structuredClone(opts.config);
  } else {
    if (opts.configName) {
      const custom = path.join(source.dir, 'configs', `${opts.configName}.pbtxt`);
      if (fs.existsSync(custom)) file = custom;
    }
    let text = '';
    if (fs.existsSync(file)) {
      text = fs.readFileSync(file, 'utf8');
    } else if (!opts.allowMissingConfig) {
      throw new Error(
        `failed to read model configuration: '${file}' does not exist (auto-complete is disabled)`,
      );
    }
    config = parseModelConfig(text, file);
  }
  if (config.name && config.name !== source.name) {
    throw new Error(
      `model configuration '${file}' has name '${config.name}' but the model folder is named '${source.name}'; they must match`,
    );
  }
  config.name = source.name;
  if (!isDir(source.dir)) throw new Error(`model folder '${source.dir}' does not exist`);
  const available = availableVersions(source.dir);
  if (available.length === 0) throw new Error('No model version was found');
  if (!config.backend && !config.platform) config.backend = guessBackend(source.dir, available);
  if (config.platform === 'onnxruntime_onnx' && !config.backend) config.backend = 'onnxruntime';
  if (config.backend === 'onnxruntime' && !config.platform) config.platform = 'onnxruntime_onnx';
  if (!config.backend && !config.platform) {
    throw new Error(
      `model '${source.name}' names no backend or platform in '${file}' and none could be inferred from its files`,
    );
  }
  const versions = selectVersions(available, config);
  if (versions.length === 0)
    throw new Error(`no version folder matches the version_policy of model '${source.name}'`);
  return { ...source, config, versions };
}
