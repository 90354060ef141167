/**
 * A bare `node:http` server for benchmarks — the floor any Node.js HTTP server starts from. It reads
 * each request and answers a fixed response: `GET` gets the metadata of `simple` (so load tools
 * that read model metadata first can drive it), anything else a fixed infer response with `simple`'s
 * two outputs in binary (128 bytes). No parsing, no model.
 *
 *   node dist/bench/bare-http-server.js <port>
 */
import * as http from 'node:http';

const port = Number(process.argv[2] ?? 18999);
const io = (name: string) => ({ name, datatype: 'INT32', shape: [-1, 16] });
const metadata = Buffer.from(
  JSON.stringify({
    name: 'simple',
    versions: ['1'],
    platform: 'onnxruntime_onnx',
    inputs: [io('INPUT0'), io('INPUT1')],
    outputs: [io('OUTPUT0'), io('OUTPUT1')],
  }),
);
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
http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': metadata.length });
        res.end(metadata);
        return;
      }
      res.writeHead(200, {
        'Content-Type': 'application/octet-stream',
        'Inference-Header-Content-Length': header.length,
        'Content-Length': reply.length,
      });
      res.end(reply);
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`bare node:http server on ${port}`));
