/**
 * A bare `node:http` server for the benchmarks — the floor any Node.js HTTP server starts from, and
 * a stand-in Triton for measuring load generators: every POST is read and answered with a fixed
 * binary infer reply (`simple`'s two INT32 [1,16] outputs) at once; GET answers `simple`'s metadata
 * (also on `/`), configuration, server metadata and statistics (the request count). No parsing, no
 * model.
 *
 *   node dist/bench/bare-http-server.js <port>
 */
import * as http from 'node:http';

const port = Number(process.argv[2] ?? 18500);
const io = (name: string) => ({ name, datatype: 'INT32', shape: [-1, 16] });
const metadata = JSON.stringify({
  name: 'simple',
  versions: ['1'],
  platform: 'mock',
  inputs: [io('INPUT0'), io('INPUT1')],
  outputs: [io('OUTPUT0'), io('OUTPUT1')],
});
const header = Buffer.from(
  JSON.stringify({
    model_name: 'simple',
    model_version: '1',
    outputs: ['OUTPUT0', 'OUTPUT1'].map((name) => ({
      name,
      datatype: 'INT32',
      shape: [1, 16],
      parameters: { binary_data_size: 64 },
    })),
  }),
);
const reply = Buffer.concat([header, Buffer.alloc(128)]);
let count = 0;

function json(res: http.ServerResponse, body: string): void {
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

http
  .createServer((req, res) => {
    const url = req.url ?? '';
    if (req.method === 'POST') {
      req.on('data', () => undefined);
      req.on('end', () => {
        count++;
        res.writeHead(200, {
          'Content-Type': 'application/octet-stream',
          'Inference-Header-Content-Length': header.length,
          'Content-Length': reply.length,
        });
        res.end(reply);
      });
      return;
    }
    if (url === '/v2')
      return json(res, JSON.stringify({ name: 'triton', version: 'mock', extensions: ['statistics'] }));
    if (url === '/v2/models/simple' || url === '/') return json(res, metadata);
    if (url === '/v2/models/simple/config')
      return json(res, JSON.stringify({ name: 'simple', max_batch_size: 8 }));
    if (url === '/v2/models/simple/stats') {
      const d = { count, ns: 0 };
      const z = { count: 0, ns: 0 };
      return json(
        res,
        JSON.stringify({
          model_stats: [
            {
              name: 'simple',
              version: '1',
              inference_count: count,
              execution_count: count,
              inference_stats: {
                success: d,
                fail: z,
                queue: d,
                compute_input: d,
                compute_infer: d,
                compute_output: d,
              },
            },
          ],
        }),
      );
    }
    res.writeHead(404).end();
  })
  .listen(port, '127.0.0.1');
