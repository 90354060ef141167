/**
 * The package as a user imports it, by name: `import { startServer } from 'nereid'` starts a real
 * server in-process (requests through its core and over its sockets), and `nereid/client` talks to
 * it. Node resolves the names through package.json `exports` (a package may import itself by name).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { packageRoot } from '../../src/core/package.js';
import { tempDir } from '../../support/temp-dir.js';
import { writeAddSub } from '../helpers/models.js';

// Imported through variables so the compiler does not resolve the names to dist/ before it exists.
const NEREID = 'nereid';
const NEREID_CLIENT = 'nereid/client';
type Api = typeof import('../../src/index.js');
type ClientApi = typeof import('../../src/client/index.js');

describe("import … from 'nereid'", () => {
  test('exports the server API and the version of package.json', async () => {
    const api = (await import(NEREID)) as Api;
    const pkg = JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as {
      version: string;
    };
    assert.equal(api.NEREID_VERSION, pkg.version);
    assert.equal(typeof api.startServer, 'function');
    assert.equal(api.defaultServeSettings().httpPort, 8000);
    assert.equal(new api.TritonError('NOT_FOUND', 'x').code, 'NOT_FOUND');
  });

  test('startServer serves a repository: in-process through the core, and over HTTP with nereid/client', async () => {
    const { startServer, NEREID_VERSION } = (await import(NEREID)) as Api;
    const { InferenceServerClient, InferInput } = (await import(NEREID_CLIENT)) as ClientApi;
    const repo = tempDir();
    writeAddSub(repo, 'simple');
    const server = await startServer({
      repositories: [repo],
      httpPort: 0,
      httpAddress: '127.0.0.1',
      allowGrpc: false,
      allowMetrics: false,
      log: { logError: false, logWarning: false, logInfo: false, logVerbose: 0, format: 'default' },
    });
    try {
      const a = Int32Array.from({ length: 16 }, (_, i) => i);
      const b = new Int32Array(16).fill(3);
      const bytes = (x: Int32Array) => new Uint8Array(x.buffer);
      const response = await server.core.infer({
        model: 'simple',
        id: 'in-process',
        parameters: {},
        inputs: [
          { name: 'INPUT0', datatype: 'INT32', shape: [1, 16], data: bytes(a) },
          { name: 'INPUT1', datatype: 'INT32', shape: [1, 16], data: bytes(b) },
        ],
      });
      const sum = response.outputs.find((t) => t.name === 'OUTPUT0')!;
      assert.deepEqual(
        Array.from(new Int32Array(sum.data.slice().buffer)),
        Array.from(a, (v) => v + 3),
      );
      assert.equal(response.id, 'in-process');

      const client = new InferenceServerClient(`http://127.0.0.1:${server.httpPort}`);
      try {
        assert.equal((await client.getServerMetadata()).version, NEREID_VERSION);
        const result = await client.infer('simple', [
          new InferInput('INPUT0', [1, 16], 'INT32').setData(a),
          new InferInput('INPUT1', [1, 16], 'INT32').setData(b),
        ]);
        assert.deepEqual(
          Array.from(result.asTypedArray<Int32Array>('OUTPUT1')),
          Array.from(a, (v) => v - 3),
        );
      } finally {
        client.close();
      }
    } finally {
      await server.stop();
    }
  });
});
