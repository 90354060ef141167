/**
 * Where model repositories live: a local folder, or an object store prefix (S3, Google Cloud
 * Storage, Azure Blob) whose model folders are downloaded into a local cache before loading, as
 * Triton does (server docs/user_guide/model_repository.md "Model Repository Locations").
 *
 * Every source answers three questions for the model manager: which model folders exist, what a
 * folder's contents look like now (a fingerprint that changes whenever a file is added, removed or
 * modified — what poll mode compares), and where on the local file system a model's files are.
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Where sources report what they download (the core's Logger fits; kept minimal to keep layers apart). */
export interface VerboseLog {
  verbose(level: number, message: string): void;
}

/** A model repository, local or remote. */
export interface RepositorySource {
  /** The repository as given on the command line (`/models`, `s3://bucket/models`, …). */
  readonly location: string;
  /** Names of the model folders it holds, sorted. @throws Error when the repository cannot be read. */
  listModels(): Promise<string[]>;
  /**
   * Every model folder with a fingerprint of its contents (file paths, sizes, modification times or
   * ETags). Poll mode reloads a model when its fingerprint changes.
   * @throws Error when the repository cannot be read.
   */
  scan(): Promise<Map<string, string>>;
  /**
   * A local directory holding the model folder's current files, named after the model: the folder
   * itself for a local repository, a fresh download for a remote one.
   * @throws Error when the files cannot be fetched.
   */
  fetch(name: string): Promise<string>;
  /** Releases what the source holds (a remote repository's temporary local copy). */
  close(): Promise<void>;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** A repository on the local file system (`--model-repository=/path`). */
export class LocalRepository implements RepositorySource {
  /** @param location the repository folder. */
  constructor(readonly location: string) {}

  async listModels(): Promise<string[]> {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(this.location, { withFileTypes: true });
    } catch (e) {
      throw new Error(
        `failed to open model repository '${this.location}': ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
      );
    }
    return entries
      .filter(
        (e) =>
          !e.name.startsWith('.') &&
          (e.isDirectory() || (e.isSymbolicLink() && isDir(path.join(this.location, e.name)))),
      )
      .map((e) => e.name)
      .sort();
  }

  async scan(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const name of await this.listModels()) out.set(name, fingerprintDir(path.join(this.location, name)));
    return out;
  }

  async fetch(name: string): Promise<string> {
    return path.join(this.location, name);
  }

  async close(): Promise<void> {}
}

/**
 * A fingerprint of a folder's tree: every entry's relative path, size and modification time (ns),
 * following symbolic links, hashed. Unreadable entries count as absent.
 */
function fingerprintDir(dir: string): string {
  const hash = createHash('sha1');
  const walk = (rel: string, depth: number) => {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, rel)).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      let st: fs.BigIntStats;
      try {
        st = fs.statSync(path.join(dir, r), { bigint: true });
      } catch {
        continue;
      }
      if (st.isDirectory()) {
        hash.update(`${r}/\n`);
        if (depth < 32) walk(r, depth + 1);
      } else {
        hash.update(`${r}:${st.size}:${st.mtimeNs}\n`);
      }
    }
  };
  walk('', 0);
  return hash.digest('hex');
}

/** An object in a store: key relative to the repository prefix, size, and a change tag. */
export interface StoredObject {
  /** Key below the repository prefix, `/`-separated (e.g. `simple/1/model.onnx`). */
  key: string;
  /** Size in bytes. */
  size: number;
  /** ETag and/or modification time: changes when the object changes. */
  tag: string;
}

/** The two operations a remote repository needs from an object store SDK. */
export interface ObjectStore {
  /** Every object below the repository prefix (recursively). */
  list(): Promise<StoredObject[]>;
  /** Writes the object `key` (relative to the prefix) into `file`. */
  download(key: string, file: string): Promise<void>;
}

/**
 * A repository in an object store, mirrored into a local cache directory model by model: each
 * fetch downloads the model folder into a new `<cache>/<generation>/<model>` folder and removes that
 * model's older copies (a loaded model no longer needs its files: sessions and labels are in
 * memory). A folder is any key prefix ending in `/` below the repository prefix.
 */
export class CloudRepository implements RepositorySource {
  private generation = 0;
  private readonly copies = new Map<string, string[]>();

  /**
   * @param location the repository URL (for messages).
   * @param store the object store client, bound to the repository's bucket/container and prefix.
   * @param cacheDir local folder for downloads (created if missing).
   * @param ownsCache remove `cacheDir` on close (true for a temporary folder, as Triton does).
   */
  constructor(
    readonly location: string,
    private readonly store: ObjectStore,
    private readonly cacheDir: string,
    private readonly ownsCache: boolean,
    private readonly logger?: VerboseLog,
  ) {
    fs.mkdirSync(cacheDir, { recursive: true });
  }

  private async objects(): Promise<Map<string, StoredObject[]>> {
    let list: StoredObject[];
    try {
      list = await this.store.list();
    } catch (e) {
      throw new Error(`failed to open model repository '${this.location}': ${(e as Error).message}`);
    }
    const byModel = new Map<string, StoredObject[]>();
    for (const o of list) {
      const slash = o.key.indexOf('/');
      if (slash <= 0) continue; // objects directly under the prefix are not model folders
      const name = o.key.slice(0, slash);
      if (name.startsWith('.')) continue;
      const group = byModel.get(name) ?? [];
      group.push(o);
      byModel.set(name, group);
    }
    return byModel;
  }

  async listModels(): Promise<string[]> {
    return [...(await this.objects()).keys()].sort();
  }

  async scan(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    for (const [name, objects] of [...(await this.objects())].sort((a, b) => a[0].localeCompare(b[0]))) {
      const hash = createHash('sha1');
      for (const o of objects.slice().sort((a, b) => a.key.localeCompare(b.key)))
        hash.update(`${o.key}:${o.size}:${o.tag}\n`);
      out.set(name, hash.digest('hex'));
    }
    return out;
  }

  async fetch(name: string): Promise<string> {
    const objects = (await this.objects()).get(name);
    if (!objects) throw new Error(`model '${name}' is not found in model repository '${this.location}'`);
    const dir = path.join(this.cacheDir, String(++this.generation), name);
    fs.mkdirSync(dir, { recursive: true });
    try {
      for (const o of objects) {
        const rel = o.key.slice(name.length + 1);
        if (rel === '' || rel.endsWith('/')) {
          if (rel) fs.mkdirSync(path.join(dir, rel), { recursive: true });
          continue;
        }
        const file = path.resolve(dir, rel);
        if (!file.startsWith(dir + path.sep)) {
          throw new Error(`object '${o.key}' would be written outside the model folder`);
        }
        fs.mkdirSync(path.dirname(file), { recursive: true });
        await this.store.download(o.key, file);
      }
    } catch (e) {
      fs.rmSync(path.dirname(dir), { recursive: true, force: true });
      throw new Error(`failed to download model '${name}' from '${this.location}': ${(e as Error).message}`);
    }
    for (const old of this.copies.get(name) ?? []) fs.rmSync(old, { recursive: true, force: true });
    this.copies.set(name, [path.dirname(dir)]);
    this.logger?.verbose(1, `downloaded model '${name}' from '${this.location}' into '${dir}'`);
    return dir;
  }

  async close(): Promise<void> {
    if (this.ownsCache) fs.rmSync(this.cacheDir, { recursive: true, force: true });
    else
      for (const list of this.copies.values())
        for (const d of list) fs.rmSync(d, { recursive: true, force: true });
    this.copies.clear();
  }
}
