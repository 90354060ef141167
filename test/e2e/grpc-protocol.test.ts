/**
 * The gRPC frontend at the protocol level, with a plain grpc-js client built from the proto (as any
 * generated stub would talk): every RPC of Triton's GRPCInferenceService answers (UNIMPLEMENTED with a
 * reason for features not built yet), health checking, version strings, typed contents and raw
 * contents rules with Triton's messages, parameter types, classification parameters, compression,
 * large messages; and the embedded proto text matching the .proto files.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import * as grpc from '@grpc/grpc-js';
import { buildExampleRepository } from '../../src/examples/build.js';
import { packageRoot } from '../../src/core/package.js';
import { renderGrpcProtoModule, GRPC_PROTO_MODULE } from '../../scripts/gen-grpc-proto-module.js';
import { decodeInferRequest, parseModelVersion } from '../../src/frontends/grpc/infer.js';
import {
  grpcRoot,
  HEALTH_SERVICE,
  INFERENCE_SERVICE,
  messageType,
  serviceDefinition,
} from '../../src/protocol/grpc/protos.js';
import { serve, type TestServer } from '../helpers/server.js';
import { tempDir } from '../../support/temp-dir.js';

type Reply = { code: number; details: string; value?: any }; // eslint-disable-line @typescript-eslint/no-explicit-any

const int32 = (v: number[]) => Buffer.from(Int32Array.from(v).buffer);
const range16 = Array.from({ length: 16 }, (_, i) => i);

/** A ModelInferRequest for `simple` with raw INT32 inputs. */
function simpleRequest(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_name: 'simple',
    inputs: [
      { name: 'INPUT0', datatype: 'INT32', shape: [1, 16] },
      { name: 'INPUT1', datatype: 'INT32', shape: [1, 16] },
    ],
    raw_input_contents: [int32(range16), int32(Array(16).fill(1))],
    ...extra,
  };
}

const RPCS = [
  'ServerLive',
  'ServerReady',
  'ModelReady',
  'ServerMetadata',
  'ModelMetadata',
  'ModelInfer',
  'ModelStreamInfer',
  'ModelConfig',
  'ModelStatistics',
  'RepositoryIndex',
  'RepositoryModelLoad',
  'RepositoryModelUnload',
  'SystemSharedMemoryStatus',
  'SystemSharedMemoryRegister',
  'SystemSharedMemoryUnregister',
  'CudaSharedMemoryStatus',
  'CudaSharedMemoryRegister',
  'CudaSharedMemoryUnregister',
  'TraceSetting',
  'LogSettings',
];

describe('gRPC protocol', () => {
  let server: TestServer;
  let client: grpc.Client & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  let health: grpc.Client & Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

  const call = (method: string, request: object, c = client): Promise<Reply> =>
    new Promise((resolve) =>
      c[method](request, (err: grpc.ServiceError | null, value: unknown) =>
        resolve(err ? { code: err.code, details: err.details } : { code: 0, details: '', value }),
      ),
    );

  const expectError = async (method: string, request: object, code: grpc.status, re: RegExp) => {
    const r = await call(method, request);
    assert.equal(r.code, code, `${r.details} (code ${r.code})`);
    assert.match(r.details, re);
  };

  before(async () => {
    const repo = tempDir();
    await buildExampleRepository(repo);
    server = await serve([repo]);
    const target = server.grpcUrl.replace('grpc://', '');
    const Inference = grpc.makeGenericClientConstructor(serviceDefinition(INFERENCE_SERVICE), 'inference');
    client = new Inference(target, grpc.credentials.createInsecure(), {
      'grpc.max_send_message_length': -1,
      'grpc.max_receive_message_length': -1,
    }) as never;
    const Health = grpc.makeGenericClientConstructor(serviceDefinition(HEALTH_SERVICE), 'health');
    health = new Health(target, grpc.credentials.createInsecure()) as never;
  });

  after(async () => {
    client?.close();
    health?.close();
    await server?.stop();
  });

  describe('the proto', () => {
    test('grpc_service_proto.ts embeds the current .proto files', () => {
      const root = packageRoot();
      assert.equal(fs.readFileSync(path.join(root, GRPC_PROTO_MODULE), 'utf8'), renderGrpcProtoModule(root));
    });

    test("the service has Triton's RPCs, streaming where Triton streams", () => {
      const service = grpcRoot().lookupService(INFERENCE_SERVICE);
      assert.deepEqual(
        service.methodsArray.map((m) => m.name),
        RPCS,
      );
      const stream = service.methods.ModelStreamInfer;
      assert.ok(stream.requestStream && stream.responseStream);
      assert.equal(stream.responseType, 'ModelStreamInferResponse');
      assert.deepEqual(
        grpcRoot()
          .lookupService(HEALTH_SERVICE)
          .methodsArray.map((m) => m.name),
        ['Check', 'Watch'],
      );
    });

    test("field numbers and types are Triton's", () => {
      const ids = (type: string) =>
        Object.fromEntries(
          messageType(type).fieldsArray.map((f) => [
            f.name,
            `${f.id}:${f.repeated ? 'repeated ' : ''}${f.type}`,
          ]),
        );
      assert.deepEqual(ids('ModelInferRequest'), {
        model_name: '1:string',
        model_version: '2:string',
        id: '3:string',
        parameters: '4:InferParameter',
        inputs: '5:repeated InferInputTensor',
        outputs: '6:repeated InferRequestedOutputTensor',
        raw_input_contents: '7:repeated bytes',
      });
      assert.deepEqual(ids('InferParameter'), {
        bool_param: '1:bool',
        int64_param: '2:int64',
        string_param: '3:string',
        double_param: '4:double',
        uint64_param: '5:uint64',
      });
      assert.deepEqual(ids('InferTensorContents'), {
        bool_contents: '1:repeated bool',
        int_contents: '2:repeated int32',
        int64_contents: '3:repeated int64',
        uint_contents: '4:repeated uint32',
        uint64_contents: '5:repeated uint64',
        fp32_contents: '6:repeated float',
        fp64_contents: '7:repeated double',
        bytes_contents: '8:repeated bytes',
      });
      assert.deepEqual(ids('ModelStreamInferResponse'), {
        error_message: '1:string',
        infer_response: '2:ModelInferResponse',
      });
      assert.equal(ids('ModelStatistics').response_stats, '9:InferResponseStatistics');
      assert.equal(ids('ModelConfigResponse').config, '1:ModelConfig');
      assert.equal(ids('CudaSharedMemoryRegisterRequest').raw_handle, '2:bytes');
      assert.equal(ids('LogSettingsRequest.SettingValue').uint32_param, '2:uint32');
    });
  });

  describe('helpers', () => {
    test("model version strings are parsed as Triton's std::stol", () => {
      assert.equal(parseModelVersion(''), undefined);
      assert.equal(parseModelVersion('3'), '3');
      assert.equal(parseModelVersion(' 02x'), '2');
      assert.throws(
        () => parseModelVersion('abc'),
        /^TritonError: failed to get model version from specified version string 'abc' \(details: stol\), version should be an integral value > 0$/,
      );
      assert.throws(
        () => parseModelVersion('-1'),
        /invalid model version specified '-1' , version should be/,
      );
    });

    test('a decoded request is exclusive only when its buffer holds nothing else', () => {
      const encoded = messageType('ModelInferRequest')
        .encode(simpleRequest({ raw_input_contents: [Buffer.alloc(8000), Buffer.alloc(8)] }))
        .finish();
      const framed = Buffer.alloc(encoded.length + 5);
      Buffer.from(encoded).copy(framed, 5);
      assert.equal(decodeInferRequest(framed.subarray(5)).exclusive, true);
      const pooled = Buffer.concat([Buffer.alloc(16), framed]);
      assert.equal(decodeInferRequest(pooled.subarray(21)).exclusive, false);
      const d = decodeInferRequest(framed.subarray(5));
      assert.equal(
        d.message.raw_input_contents![0].buffer,
        framed.buffer,
        'raw contents are views, not copies',
      );
    });
  });

  describe('simple RPCs', () => {
    test('health and metadata', async () => {
      assert.deepEqual((await call('ServerLive', {})).value.live, true);
      assert.deepEqual((await call('ServerReady', {})).value.ready, true);
      assert.equal((await call('ModelReady', { name: 'simple' })).value.ready, true);
      assert.equal((await call('ModelReady', { name: 'nope' })).value.ready, false, 'OK status, not ready');
      const md = (await call('ServerMetadata', {})).value;
      assert.equal(md.name, 'triton');
      const mm = (await call('ModelMetadata', { name: 'simple', version: '1' })).value;
      assert.deepEqual(mm.inputs[0].shape.map(Number), [-1, 16]);
    });

    test('grpc.health.v1.Health: Check answers SERVING; Watch is UNIMPLEMENTED', async () => {
      const r = await call('Check', { service: '' }, health);
      assert.equal(r.value.status, 1);
      const watch = await new Promise<grpc.ServiceError>((resolve) => {
        const s = health.Watch({ service: '' });
        s.on('data', () => undefined);
        s.on('error', resolve);
      });
      assert.equal(watch.code, grpc.status.UNIMPLEMENTED);
    });

    test('ModelConfig returns the inference.ModelConfig message', async () => {
      const config = (await call('ModelConfig', { name: 'simple' })).value.config;
      assert.equal(config.name, 'simple');
      assert.equal(config.max_batch_size, 8);
      assert.equal(config.input[0].data_type, 8, 'TYPE_INT32');
      assert.deepEqual(config.input[0].dims.map(Number), [16]);
    });

    test('version strings: INVALID_ARGUMENT as Triton; unknown version NOT_FOUND', async () => {
      for (const method of ['ModelMetadata', 'ModelConfig', 'ModelReady', 'ModelStatistics']) {
        await expectError(
          method,
          { name: 'simple', version: 'abc' },
          grpc.status.INVALID_ARGUMENT,
          /^failed to get model version from specified version string 'abc'/,
        );
      }
      await expectError(
        'ModelMetadata',
        { name: 'simple', version: '7' },
        grpc.status.NOT_FOUND,
        /version 7 is not found/,
      );
      await expectError(
        'ModelInfer',
        simpleRequest({ model_version: '-2' }),
        grpc.status.INVALID_ARGUMENT,
        /invalid model version/,
      );
    });

    test('features not built yet answer UNIMPLEMENTED with the reason', async () => {
      const expected: Record<string, RegExp> = {
        SystemSharedMemoryStatus: /system shared memory is not implemented/,
        SystemSharedMemoryRegister: /system shared memory is not implemented/,
        SystemSharedMemoryUnregister: /system shared memory is not implemented/,
        CudaSharedMemoryStatus: /CUDA shared memory is not implemented/,
        CudaSharedMemoryRegister: /CUDA shared memory is not implemented/,
        CudaSharedMemoryUnregister: /CUDA shared memory is not implemented/,
      };
      for (const [method, re] of Object.entries(expected)) {
        await expectError(method, { model_name: 'simple', name: 'x' }, grpc.status.UNIMPLEMENTED, re);
      }
    });

    test("RepositoryModelLoad/Unload in mode none: UNAVAILABLE with Triton's message", async () => {
      for (const method of ['RepositoryModelLoad', 'RepositoryModelUnload']) {
        await expectError(
          method,
          { model_name: 'simple' },
          grpc.status.UNAVAILABLE,
          /^explicit model load \/ unload is not allowed if polling is enabled$/,
        );
      }
    });

    test('repository index entries carry version, state and reason', async () => {
      const models = (await call('RepositoryIndex', { ready: true })).value.models;
      assert.ok(
        models.some((m: { name: string; state: string }) => m.name === 'simple' && m.state === 'READY'),
      );
    });
  });

  describe('ModelInfer', () => {
    test('raw in, raw out; id echoed; no typed contents in the response', async () => {
      const r = await call('ModelInfer', simpleRequest({ id: 'abc' }));
      assert.equal(r.code, 0, r.details);
      assert.equal(r.value.id, 'abc');
      assert.equal(r.value.model_version, '1');
      assert.equal(r.value.raw_output_contents.length, 2);
      assert.ok(r.value.outputs.every((o: { contents: unknown }) => o.contents === null));
      const sum = new Int32Array(new Uint8Array(r.value.raw_output_contents[0]).buffer);
      assert.deepEqual(
        Array.from(sum),
        range16.map((i) => i + 1),
      );
    });

    test('typed contents: narrow integer types keep the low bytes, as Triton', async () => {
      const r = await call('ModelInfer', {
        model_name: 'identity_int8',
        inputs: [
          { name: 'INPUT0', datatype: 'INT8', shape: [1, 3], contents: { int_contents: [-1, 127, 300] } },
        ],
      });
      assert.equal(r.code, 0, r.details);
      assert.deepEqual(
        Array.from(new Int8Array(new Uint8Array(r.value.raw_output_contents[0]).buffer)),
        [-1, 127, 44],
      );
    });

    test('contents and raw_input_contents rules, with Triton messages', async () => {
      const twoTyped = simpleRequest({ raw_input_contents: [] }) as {
        inputs: Array<Record<string, unknown>>;
      };
      twoTyped.inputs[0].contents = { int_contents: range16 };
      twoTyped.inputs[1].contents = { int_contents: range16 };
      assert.equal((await call('ModelInfer', twoTyped)).code, 0);

      const mixed = simpleRequest({ raw_input_contents: [int32(range16)] }) as {
        inputs: Array<Record<string, unknown>>;
      };
      mixed.inputs[1].contents = { int_contents: range16 };
      await expectError(
        'ModelInfer',
        mixed,
        grpc.status.INVALID_ARGUMENT,
        /^contents field must not be specified when using raw_input_contents for 'INPUT1' for model 'simple'$/,
      );
      await expectError(
        'ModelInfer',
        simpleRequest({ raw_input_contents: [int32(range16)] }),
        grpc.status.INVALID_ARGUMENT,
        /^unable to find data for input tensor 'INPUT1' for model 'simple' in request\.$/,
      );
      await expectError(
        'ModelInfer',
        simpleRequest({ raw_input_contents: [int32(range16), int32(range16), int32(range16)] }),
        grpc.status.INVALID_ARGUMENT,
        /unexpected additional input data for model 'simple'/,
      );
      const wrongType = simpleRequest({ raw_input_contents: [] }) as {
        inputs: Array<Record<string, unknown>>;
      };
      wrongType.inputs[0].contents = { fp32_contents: range16 };
      wrongType.inputs[1].contents = { int_contents: range16 };
      await expectError(
        'ModelInfer',
        wrongType,
        grpc.status.INVALID_ARGUMENT,
        /^unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple' of type 'FP32', expected datatype 'INT32'$/,
      );
      wrongType.inputs[0].contents = { int_contents: range16, fp32_contents: range16 };
      await expectError(
        'ModelInfer',
        wrongType,
        grpc.status.INVALID_ARGUMENT,
        /^unexpected explicit tensor data for input tensor 'INPUT0' for model 'simple', binary data was already supplied\.$/,
      );
      await expectError(
        'ModelInfer',
        {
          model_name: 'identity_fp16',
          inputs: [{ name: 'INPUT0', datatype: 'FP16', shape: [1, 1], contents: { fp32_contents: [1] } }],
        },
        grpc.status.INVALID_ARGUMENT,
        /of type 'FP32', expected datatype 'FP16'/,
      );
    });

    test('bad tensors name the model and the tensor', async () => {
      await expectError(
        'ModelInfer',
        simpleRequest({ raw_input_contents: [int32(range16), int32(range16.slice(1))] }),
        grpc.status.INVALID_ARGUMENT,
        /input byte size mismatch for input 'INPUT1' for model 'simple'\. Expected 64, got 60/,
      );
      const badType = simpleRequest() as { inputs: Array<Record<string, unknown>> };
      badType.inputs[0].datatype = 'INT33';
      await expectError(
        'ModelInfer',
        badType,
        grpc.status.INVALID_ARGUMENT,
        /invalid datatype "INT33" for input 'INPUT0' for model 'simple'/,
      );
      await expectError(
        'ModelInfer',
        {
          model_name: 'identity_bytes',
          inputs: [{ name: 'INPUT0', datatype: 'BYTES', shape: [1, 1] }],
          raw_input_contents: [Buffer.from([9, 0, 0, 0, 0x61])],
        },
        grpc.status.INVALID_ARGUMENT,
        /input 'INPUT0' for model 'identity_bytes'.*runs past the end/,
      );
      const shm = simpleRequest() as { inputs: Array<Record<string, unknown>> };
      shm.inputs[0].parameters = { shared_memory_region: { string_param: 'r' } };
      await expectError(
        'ModelInfer',
        shm,
        grpc.status.INVALID_ARGUMENT,
        /input 'INPUT0' for model 'simple': shared memory is not supported/,
      );
      await expectError(
        'ModelInfer',
        simpleRequest({ model_name: 'nope' }),
        grpc.status.INVALID_ARGUMENT,
        /^Request for unknown model: 'nope' is not found$/,
      );
    });

    test("parameter types are checked as Triton's SetInferenceRequestMetadata", async () => {
      const cases: Array<[Record<string, unknown>, RegExp]> = [
        [
          { sequence_id: { bool_param: true } },
          /'sequence_id' parameter, expected int64_param or string_param\.$/,
        ],
        [{ sequence_start: { int64_param: 1 } }, /'sequence_start' parameter, expected bool_param\.$/],
        [
          { priority: { string_param: 'hi' } },
          /'priority' parameter, expected int64_param or uint64_param\.$/,
        ],
        [{ timeout: { bool_param: true } }, /'timeout' parameter, expected int64_param\.$/],
        [
          { custom: { double_param: 0.5 } },
          /'custom' parameter, expected int64_param, bool_param, or string_param\.$/,
        ],
        [{ triton_x: { bool_param: true } }, /reserved for Triton usage/],
      ];
      for (const [parameters, re] of cases) {
        await expectError('ModelInfer', simpleRequest({ parameters }), grpc.status.INVALID_ARGUMENT, re);
      }
      const ok = await call(
        'ModelInfer',
        simpleRequest({
          parameters: {
            custom: { string_param: 'x' },
            n: { int64_param: 5 },
            priority: { uint64_param: 1 },
            triton_enable_empty_final_response: { bool_param: true },
          },
        }),
      );
      assert.equal(ok.code, 0, ok.details);
    });

    test('classification parameters', async () => {
      const out = (p: Record<string, unknown>) =>
        simpleRequest({ outputs: [{ name: 'OUTPUT0', parameters: { classification: p } }] });
      const r = await call('ModelInfer', out({ int64_param: 2 }));
      assert.equal(r.code, 0, r.details);
      assert.equal(r.value.outputs[0].datatype, 'BYTES');
      assert.deepEqual(r.value.outputs[0].shape.map(Number), [1, 2]);
      await expectError(
        'ModelInfer',
        out({ string_param: '2' }),
        grpc.status.INVALID_ARGUMENT,
        /expected int64_param/,
      );
      await expectError(
        'ModelInfer',
        out({ int64_param: 0 }),
        grpc.status.INVALID_ARGUMENT,
        /invalid value for 'classification'/,
      );
    });

    test('gzip-compressed requests are accepted', async () => {
      const Inference = grpc.makeGenericClientConstructor(serviceDefinition(INFERENCE_SERVICE), 'inference');
      const gz = new Inference(server.grpcUrl.replace('grpc://', ''), grpc.credentials.createInsecure(), {
        'grpc.default_compression_algorithm': 2,
      }) as never;
      const r = await call('ModelInfer', simpleRequest(), gz);
      (gz as grpc.Client).close();
      assert.equal(r.code, 0, r.details);
    });

    test('a 24 MB request and response (limits are 2^31 - 1, as Triton)', async () => {
      const n = 6_000_000;
      const data = Buffer.from(Float32Array.from({ length: n }, (_, i) => i).buffer);
      const r = await call('ModelInfer', {
        model_name: 'identity_fp32',
        inputs: [{ name: 'INPUT0', datatype: 'FP32', shape: [1, n] }],
        raw_input_contents: [data],
      });
      assert.equal(r.code, 0, r.details);
      assert.ok(Buffer.from(r.value.raw_output_contents[0]).equals(data));
      // The server is fine afterwards (the request's buffer was handed to the model instance).
      assert.equal((await call('ModelInfer', simpleRequest())).code, 0);
    });
  });

  describe('ModelStreamInfer at the message level', () => {
    test('error responses carry error_message and the id; successes triton_final_response', async () => {
      const stream = client.ModelStreamInfer() as grpc.ClientDuplexStream<object, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
      const got: any[] = []; // eslint-disable-line @typescript-eslint/no-explicit-any
      const ended = new Promise<void>((resolve) => stream.on('end', resolve));
      stream.on('data', (m) => got.push(m));
      stream.write(simpleRequest({ id: 'good' }));
      stream.write(simpleRequest({ id: 'bad', model_name: 'nope' }));
      stream.end();
      await ended;
      assert.equal(got.length, 2);
      assert.equal(got[0].error_message, '');
      assert.equal(got[0].infer_response.id, 'good');
      assert.equal(got[0].infer_response.parameters.triton_final_response.bool_param, true);
      assert.equal(got[1].error_message, "Request for unknown model: 'nope' is not found");
      assert.equal(got[1].infer_response.id, 'bad');
    });
  });
});
