/**
 * Object-store model repositories with the official SDKs, with Triton's URL forms, credential
 * conventions and local copies (server docs/user_guide/model_repository.md "Cloud Storage with
 * Environment variables"):
 *
 * - `s3://bucket/path`, `s3://host:port/bucket/path`, `s3://http(s)://host:port/bucket/path`
 *   (`@aws-sdk/client-s3`): credentials from the SDK's default chain (AWS_ACCESS_KEY_ID /
 *   AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, AWS_PROFILE, ~/.aws/credentials, …); region from
 *   AWS_REGION or AWS_DEFAULT_REGION (us-east-1 otherwise); an endpoint in the URL (or
 *   AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL) selects an S3-compatible store with path-style
 *   addressing, over HTTP unless the URL says https://. Local copy in TRITON_AWS_MOUNT_DIRECTORY.
 * - `gs://bucket/path` (`@google-cloud/storage`): GOOGLE_APPLICATION_CREDENTIALS or the SDK's
 *   application-default credentials (STORAGE_EMULATOR_HOST points the SDK at an emulator). Local
 *   copy in TRITON_GCS_MOUNT_DIRECTORY.
 * - `as://account/container/path` (`@azure/storage-blob`): AZURE_STORAGE_ACCOUNT and
 *   AZURE_STORAGE_KEY (shared key) against `https://<account>.blob.core.windows.net`, anonymous
 *   access without a key; Nereid also accepts AZURE_STORAGE_CONNECTION_STRING (the Azure CLI's
 *   variable; its BlobEndpoint reaches Azurite or another endpoint). Local copy in
 *   TRITON_AZURE_MOUNT_DIRECTORY.
 *
 * Without a mount directory the copy goes to a temporary folder under the OS temp dir, removed when
 * the server stops (as Triton). SDKs are imported on first use so local-only servers never load them.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CloudRepository,
  LocalRepository,
  type ObjectStore,
  type RepositorySource,
  type StoredObject,
  type VerboseLog,
} from './source.js';

/** A parsed S3 repository URL. */
export interface S3Location {
  bucket: string;
  prefix: string;
  /** `http(s)://host:port` for S3-compatible stores; undefined for AWS. */
  endpoint?: string;
}

function prefixOf(p: string | undefined): string {
  const t = (p ?? '').replace(/^\/+|\/+$/g, '');
  return t ? `${t}/` : '';
}

/**
 * Parses `s3://[http(s)://host:port/]bucket[/path]` (Triton's forms; host and port go together).
 * @throws Error naming the URL and the expected forms.
 */
function parseS3Url(url: string): S3Location {
  const withHost = /^s3:\/\/(?:(https?):\/\/)?([^/:]+):([0-9]+)\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (withHost) {
    return {
      endpoint: `${withHost[1] ?? 'http'}://${withHost[2]}:${withHost[3]}`,
      bucket: withHost[4],
      prefix: prefixOf(withHost[5]),
    };
  }
  const plain = /^s3:\/\/([^/:]+)(?:\/(.*))?$/.exec(url);
  if (!plain) {
    throw new Error(
      `invalid S3 model repository '${url}': expected s3://bucket/path or s3://[http(s)://]host:port/bucket/path`,
    );
  }
  return { bucket: plain[1], prefix: prefixOf(plain[2]) };
}

/** Parses `gs://bucket[/path]`. @throws Error for another form. */
function parseGcsUrl(url: string): { bucket: string; prefix: string } {
  const m = /^gs:\/\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`invalid GCS model repository '${url}': expected gs://bucket/path`);
  return { bucket: m[1], prefix: prefixOf(m[2]) };
}

/** Parses `as://account/container[/path]`. @throws Error for another form. */
function parseAzureUrl(url: string): { account: string; container: string; prefix: string } {
  const m = /^as:\/\/([^/]+)\/([^/]+)(?:\/(.*))?$/.exec(url);
  if (!m) throw new Error(`invalid Azure model repository '${url}': expected as://account/container/path`);
  return { account: m[1], container: m[2], prefix: prefixOf(m[3]) };
}

/** S3 through `@aws-sdk/client-s3`. */
function s3Store(loc: S3Location): ObjectStore {
  type S3 = typeof import('@aws-sdk/client-s3');
  let sdk: Promise<{ mod: S3; client: InstanceType<S3['S3Client']> }> | undefined;
  const open = () =>
    (sdk ??= import('@aws-sdk/client-s3').then((mod) => {
      const endpoint = loc.endpoint ?? process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL;
      const client = new mod.S3Client({
        region: process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
        ...(endpoint ? { endpoint, forcePathStyle: true } : {}),
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      return { mod, client };
    }));
  return {
    async list() {
      const { mod, client } = await open();
      const out: StoredObject[] = [];
      let token: string | undefined;
      do {
        const page = await client.send(
          new mod.ListObjectsV2Command({ Bucket: loc.bucket, Prefix: loc.prefix, ContinuationToken: token }),
        );
        for (const o of page.Contents ?? []) {
          if (!o.Key) continue;
          out.push({
            key: o.Key.slice(loc.prefix.length),
            size: o.Size ?? 0,
            tag: `${o.ETag ?? ''}:${o.LastModified?.getTime() ?? 0}`,
          });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
      return out;
    },
    async download(key, file) {
      const { mod, client } = await open();
      const r = await client.send(new mod.GetObjectCommand({ Bucket: loc.bucket, Key: loc.prefix + key }));
      const bytes = await r.Body!.transformToByteArray();
      fs.writeFileSync(file, bytes);
    },
  };
}

/** Google Cloud Storage through `@google-cloud/storage`. */
function gcsStore(bucketName: string, prefix: string): ObjectStore {
  type Gcs = typeof import('@google-cloud/storage');
  let sdk: Promise<ReturnType<InstanceType<Gcs['Storage']>['bucket']>> | undefined;
  const open = () =>
    (sdk ??= import('@google-cloud/storage').then((mod) => new mod.Storage().bucket(bucketName)));
  return {
    async list() {
      const bucket = await open();
      const [files] = await bucket.getFiles({ prefix, autoPaginate: true });
      return files.map((f) => ({
        key: f.name.slice(prefix.length),
        size: Number(f.metadata.size ?? 0),
        tag: `${f.metadata.etag ?? ''}:${f.metadata.generation ?? ''}:${f.metadata.updated ?? ''}`,
      }));
    },
    async download(key, file) {
      const bucket = await open();
      await bucket.file(prefix + key).download({ destination: file });
    },
  };
}

/** Azure Blob Storage through `@azure/storage-blob`. */
function azureStore(account: string, containerName: string, prefix: string): ObjectStore {
  type Az = typeof import('@azure/storage-blob');
  let sdk: Promise<ReturnType<InstanceType<Az['BlobServiceClient']>['getContainerClient']>> | undefined;
  const open = () =>
    (sdk ??= import('@azure/storage-blob').then((mod) => {
      const conn = process.env.AZURE_STORAGE_CONNECTION_STRING;
      let service;
      if (conn) {
        service = mod.BlobServiceClient.fromConnectionString(conn);
      } else {
        const authType = process.env.AZURE_STORAGE_AUTH_TYPE;
        if (authType && authType !== 'shared_key' && authType !== 'key') {
          throw new Error(
            `AZURE_STORAGE_AUTH_TYPE=${authType} needs @azure/identity, which Nereid does not include; use AZURE_STORAGE_ACCOUNT and AZURE_STORAGE_KEY or AZURE_STORAGE_CONNECTION_STRING`,
          );
        }
        const name = process.env.AZURE_STORAGE_ACCOUNT || account;
        const key = process.env.AZURE_STORAGE_KEY;
        const credential = key
          ? new mod.StorageSharedKeyCredential(name, key)
          : new mod.AnonymousCredential();
        service = new mod.BlobServiceClient(`https://${account}.blob.core.windows.net`, credential);
      }
      return service.getContainerClient(containerName);
    }));
  return {
    async list() {
      const container = await open();
      const out: StoredObject[] = [];
      for await (const b of container.listBlobsFlat({ prefix })) {
        out.push({
          key: b.name.slice(prefix.length),
          size: b.properties.contentLength ?? 0,
          tag: `${b.properties.etag ?? ''}:${b.properties.lastModified?.getTime() ?? 0}`,
        });
      }
      return out;
    },
    async download(key, file) {
      const container = await open();
      await container.getBlobClient(prefix + key).downloadToFile(file);
    },
  };
}

/** The local copy's folder: `$<env>/<n>` when the mount variable is set, else a new temp folder. */
function cacheDirFor(envName: string, kind: string, index: number): { dir: string; owned: boolean } {
  const mount = process.env[envName];
  if (mount) return { dir: path.join(mount, `repository-${index}`), owned: false };
  return { dir: fs.mkdtempSync(path.join(os.tmpdir(), `nereid-${kind}-`)), owned: true };
}

/**
 * Opens a repository location: a local path, or an `s3://`, `gs://` or `as://` URL.
 * @param index the repository's position among `--model-repository` flags (names its local copy
 *   inside a mount directory).
 * @throws Error for a malformed cloud URL.
 */
export function openRepository(location: string, index = 0, logger?: VerboseLog): RepositorySource {
  if (location.startsWith('s3://')) {
    const loc = parseS3Url(location);
    const c = cacheDirFor('TRITON_AWS_MOUNT_DIRECTORY', 's3', index);
    return new CloudRepository(location, s3Store(loc), c.dir, c.owned, logger);
  }
  if (location.startsWith('gs://')) {
    const loc = parseGcsUrl(location);
    const c = cacheDirFor('TRITON_GCS_MOUNT_DIRECTORY', 'gcs', index);
    return new CloudRepository(location, gcsStore(loc.bucket, loc.prefix), c.dir, c.owned, logger);
  }
  if (location.startsWith('as://')) {
    const loc = parseAzureUrl(location);
    const c = cacheDirFor('TRITON_AZURE_MOUNT_DIRECTORY', 'azure', index);
    return new CloudRepository(
      location,
      azureStore(loc.account, loc.container, loc.prefix),
      c.dir,
      c.owned,
      logger,
    );
  }
  return new LocalRepository(location);
}
