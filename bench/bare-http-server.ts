/**
 * A bare `node:http` server for benchmarks: answers every request with a fixed small JSON body
 * after reading the request — the floor any Node.js HTTP server starts from.
 *
 *   node dist/bench/bare-http-server.js <port>
 */
import * as http from 'node:http';

const port = Number(process.argv[2] ?? 18999);
const reply = Buffer.from('{"model_name":"simple","model_version":"1","outputs":[]}');
http
  .createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': reply.length });
      res.end(reply);
    });
  })
  .listen(port, '127.0.0.1', () => console.log(`bare node:http server on ${port}`));
