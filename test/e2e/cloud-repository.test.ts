/**
 * Cloud model repositories against real emulators started here from node_modules: S3 through
 * s3rver (`s3://127.0.0.1:<port>/bucket/path`, path-style, AWS_* credentials, local copy in
 * TRITON_AWS_MOUNT_DIRECTORY) and Azure Blob through Azurite (`as://devstoreaccount1/container/path`,
 * AZURE_STORAGE_CONNECTION_STRING, local copy in a temporary folder). Each repository loads, serves,
 * and in poll mode picks up a new version and a changed config from the store. (Google Cloud Storage
 * has no emulator installable from npm; its code path is not exercised here — see docs/model-management.md, "Cloud repositories".)
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { S3Client, PutObjectCommand } from '@aws-sdk/client-s3';
import { BlobServiceClient } from '@azure/storage-blob';
import S3rver from 's3rver';
import { simpleAddSubModel } from '../../src/examples/build.js';
import { addSubConfig, addSubJsonInputs } from '../helpers/models.js';
import { freePort, waitFor } from '../helpers/process.js';
import { http, serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';
import { packageRoot } from '../../src/core/package.js';

type Upload = (key: string, body: Uint8Array | string) => Promise<void>;

/** Uploads the add/sub model `name` (config and versions) below `prefix`. */
async function uploadAddSub(upload: Upload, prefix: string, name: string, versions: number[]) {
  await upload(`${prefix}/${name}/config.pbtxt`, addSubConfig(name));
  for (const v of versions) await upload(`${prefix}/${name}/${v}/model.onnx`, simpleAddSubModel());
}

/** The served version of `name` and the configured max_batch_size, after an inference. */
async function served(server: TestServer, name: string): Promise<{ version: string; maxBatch: number }> {
  const r = await http(server.url, 'POST', `/v2/models/${name}/infer`, { inputs: addSubJsonInputs(1) });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.deepEqual(
    r.body.outputs[0].data,
    Array.from({ length: 16 }, (_, i) => i + 1),
  );
  const c = await http(server.url, 'GET', `/v2/models/${name}/config`);
  return { version: r.body.model_version, maxBatch: c.body.max_batch_size };
}

/** Checks load, then reload on a new version and on a config change, through poll mode. */
async function loadAndReload(server: TestServer, upload: Upload, prefix: string) {
  assert.deepEqual(await served(server, 'cloudy'), { version: '1', maxBatch: 8 });
  await upload(`${prefix}/cloudy/2/model.onnx`, simpleAddSubModel());
  await waitFor(async () => (await served(server, 'cloudy')).version === '2', 'version 2 from the store');
  await upload(
    `${prefix}/cloudy/config.pbtxt`,
    addSubConfig('cloudy').replace('max_batch_size: 8', 'max_batch_size: 4'),
  );
  await waitFor(async () => (await served(server, 'cloudy')).maxBatch === 4, 'the changed config');
  const idx = (await http(server.url, 'POST', '/v2/repository/index')).body;
  assert.deepEqual(
    idx.filter((e: { name: string }) => e.name === 'cloudy'),
    [
      { name: 'cloudy', version: '1', state: 'UNAVAILABLE', reason: 'unloaded' },
      { name: 'cloudy', version: '2', state: 'READY' },
    ],
  );
}

describe('S3 repository (s3rver)', () => {
  let s3: S3rver;
  let server: TestServer;
  let upload: Upload;
  let mount: string;

  before(async () => {
    s3 = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: tempDir('nereid-s3rver-'),
      configureBuckets: [{ name: 'models' }],
    });
    const { port } = await s3.run();
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
    process.env.AWS_REGION = 'us-east-1';
    mount = tempDir('nereid-s3-mount-');
    process.env.TRITON_AWS_MOUNT_DIRECTORY = mount;
    const client = new S3Client({
      endpoint: `http://127.0.0.1:${port}`,
      forcePathStyle: true,
      region: 'us-east-1',
      requestChecksumCalculation: 'WHEN_REQUIRED',
    });
    upload = async (key, body) => {
      await client.send(new PutObjectCommand({ Bucket: 'models', Key: key, Body: body }));
    };
    await uploadAddSub(upload, 'repo', 'cloudy', [1]);
    await uploadAddSub(upload, 'repo', 'steady', [1]);
    server = await serve([`s3://127.0.0.1:${port}/models/repo`], {
      modelControlMode: 'poll',
      repositoryPollSecs: 1,
      allowGrpc: false,
    });
  });

  after(async () => {
    await server?.stop();
    await s3?.close();
  });

  test('models load from the bucket into TRITON_AWS_MOUNT_DIRECTORY and reload on changes', async () => {
    assert.deepEqual(server.failedModels, []);
    const copies = fs.readdirSync(mount, { recursive: true }).map(String);
    assert.ok(
      copies.some((p) => p.endsWith(path.join('cloudy', '1', 'model.onnx'))),
      copies.join(', '),
    );
    await loadAndReload(server, upload, 'repo');
    assert.equal((await served(server, 'steady')).version, '1');
  });
});

describe('Azure Blob repository (Azurite)', () => {
  let azurite: ChildProcess;
  let server: TestServer;
  let upload: Upload;

  before(async () => {
    const port = await freePort();
    const bin = path.join(packageRoot(), 'node_modules', 'azurite', 'dist', 'src', 'blob', 'main.js');
    azurite = spawn(
      process.execPath,
      [
        bin,
        '--blobHost',
        '127.0.0.1',
        '--blobPort',
        String(port),
        '--inMemoryPersistence',
        '--skipApiVersionCheck',
        '--loose',
        '--silent',
        '--disableTelemetry',
      ],
      { stdio: 'ignore', cwd: tempDir('nereid-azurite-') },
    );
    // Azurite's well-known development account (docs: "Azurite ... well-known storage account").
    const key = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
    process.env.AZURE_STORAGE_CONNECTION_STRING =
      `DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=${key};` +
      `BlobEndpoint=http://127.0.0.1:${port}/devstoreaccount1;`;
    const service = BlobServiceClient.fromConnectionString(process.env.AZURE_STORAGE_CONNECTION_STRING);
    const container = service.getContainerClient('models');
    await waitFor(
      () =>
        container.createIfNotExists().then(
          () => true,
          () => false,
        ),
      'Azurite to accept requests',
      30_000,
    );
    upload = async (key, body) => {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      await container.getBlockBlobClient(key).upload(bytes, bytes.byteLength);
    };
    await uploadAddSub(upload, 'deep/repo', 'cloudy', [1]);
    server = await serve(['as://devstoreaccount1/models/deep/repo'], {
      modelControlMode: 'poll',
      repositoryPollSecs: 1,
      allowGrpc: false,
    });
  });

  after(async () => {
    await server?.stop();
    azurite?.kill();
  });

  test('models load from the container and reload on changes', async () => {
    assert.deepEqual(server.failedModels, []);
    await loadAndReload(server, upload, 'deep/repo');
  });
});
