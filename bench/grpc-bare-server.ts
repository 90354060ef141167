/**
 * A bare `@grpc/grpc-js` server for benchmarks: Triton's GRPCInferenceService with ModelInfer answering
 * a fixed `simple` response (two INT32 [1,16] outputs) without looking at the request, and
 * ServerReady — the floor of any Node.js gRPC server that uses grpc-js and protobufjs.
 *
 *   node dist/bench/grpc-bare-server.js <port>
 */
import * as grpc from '@grpc/grpc-js';
import { INFERENCE_SERVICE, MAX_GRPC_MESSAGE_SIZE, serviceDefinition } from '../src/protocol/grpc/protos.js';

const port = Number(process.argv[2] ?? 18998);
const out = (name: string) => ({ name, datatype: 'INT32', shape: [1, 16] });
const reply = {
  model_name: 'simple',
  model_version: '1',
  id: '',
  outputs: [out('OUTPUT0'), out('OUTPUT1')],
  raw_output_contents: [Buffer.alloc(64), Buffer.alloc(64)],
};
const server = new grpc.Server({
  'grpc.max_receive_message_length': MAX_GRPC_MESSAGE_SIZE,
  'grpc.enable_channelz': 0,
});
server.addService(serviceDefinition(INFERENCE_SERVICE), {
  ServerReady: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { ready: true }),
  ModelInfer: (_call: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, reply),
});
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (err) => {
  if (err) throw err;
  console.log(`bare grpc-js server on ${port}`);
});
