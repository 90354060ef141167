/**
 * Python-backend models written into test repositories, in the style of Triton's python_backend
 * examples (examples/add_sub, the string examples' simple_identity, examples/bls,
 * examples/decoupled repeat, auto_complete, …).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes `<repo>/<name>/config.pbtxt` (unless null) and `<repo>/<name>/1/model.py`. */
export function writePythonModel(repo: string, name: string, config: string | null, modelPy: string): void {
  const dir = path.join(repo, name);
  fs.mkdirSync(path.join(dir, '1'), { recursive: true });
  if (config !== null) fs.writeFileSync(path.join(dir, 'config.pbtxt'), config);
  fs.writeFileSync(path.join(dir, '1', 'model.py'), modelPy);
}

/** examples/add_sub: FP32 [4] INPUT0, INPUT1 → OUTPUT0 = sum, OUTPUT1 = difference. */
export function writeAddSubPy(repo: string, name = 'add_sub', extraConfig = ''): void {
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
input [
  { name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "INPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] },
  { name: "OUTPUT1" data_type: TYPE_FP32 dims: [ 4 ] }
]
instance_group [{ kind: KIND_CPU }]
${extraConfig}`,
    `import json
import os
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.model_config = model_config = json.loads(args["model_config"])
        self.args = args
        out0 = pb_utils.get_output_config_by_name(model_config, "OUTPUT0")
        out1 = pb_utils.get_output_config_by_name(model_config, "OUTPUT1")
        self.output0_dtype = pb_utils.triton_string_to_numpy(out0["data_type"])
        self.output1_dtype = pb_utils.triton_string_to_numpy(out1["data_type"])
        print("add_sub initialized, pid", os.getpid())
        pb_utils.Logger.log_info("hello from pb_utils.Logger")
        pidfile = model_config["parameters"].get("PID_FILE", {}).get("string_value")
        if pidfile:
            # Written whole, then renamed: a reader never sees an empty or partial file.
            with open(pidfile + ".tmp", "w") as f:
                f.write(str(os.getpid()))
            os.replace(pidfile + ".tmp", pidfile)
        delay = float(model_config["parameters"].get("INIT_DELAY", {}).get("string_value", "0"))
        if delay:
            import time
            time.sleep(delay)

    def execute(self, requests):
        delay = float(self.model_config["parameters"].get("EXEC_DELAY", {}).get("string_value", "0"))
        if delay:
            import time
            time.sleep(delay)
        responses = []
        for request in requests:
            in_0 = pb_utils.get_input_tensor_by_name(request, "INPUT0")
            in_1 = pb_utils.get_input_tensor_by_name(request, "INPUT1")
            out_0, out_1 = (in_0.as_numpy() + in_1.as_numpy(), in_0.as_numpy() - in_1.as_numpy())
            out_tensor_0 = pb_utils.Tensor("OUTPUT0", out_0.astype(self.output0_dtype))
            out_tensor_1 = pb_utils.Tensor("OUTPUT1", out_1.astype(self.output1_dtype))
            responses.append(pb_utils.InferenceResponse(output_tensors=[out_tensor_0, out_tensor_1]))
        return responses

    def finalize(self):
        path = self.model_config["parameters"].get("FINALIZE_FILE", {}).get("string_value")
        if path:
            with open(path, "w") as f:
                f.write("finalized " + self.args["model_instance_name"])
        print("Cleaning up...")
`,
  );
}

/** The string examples' simple_identity: BYTES [-1] INPUT0 → OUTPUT0, batching up to 8. */
export function writeSimpleIdentity(repo: string, name = 'simple_identity'): void {
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
max_batch_size: 8
dynamic_batching {}
input [{ name: "INPUT0" data_type: TYPE_STRING dims: [ -1 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_STRING dims: [ -1 ] }]
`,
    `import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for request in requests:
            in_0 = pb_utils.get_input_tensor_by_name(request, "INPUT0")
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", in_0.as_numpy())]))
        return responses
`,
  );
}

/** An FP32 [-1] identity (INPUT0 → OUTPUT0), batching up to 8: the benchmark's Python model. */
export function writeIdentityFp32Py(repo: string, name = 'identity_fp32_py', extraConfig = ''): void {
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
max_batch_size: 8
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ -1 ] }]
${extraConfig}`,
    `import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def execute(self, requests):
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", r.inputs()[0].as_numpy())])
            for r in requests
        ]
`,
  );
}

/**
 * examples/bls style: INT32 [16] INPUT0, INPUT1 and BYTES [1] MODEL_NAME → runs MODEL_NAME (the
 * ONNX \`simple\`) with BLS, then post-processes: OUTPUT0 = 2 × its OUTPUT0, OUTPUT1 = its OUTPUT1.
 * An error of the called model is returned as the response's error. With \`asyncBls\` the model's
 * execute is \`async def\` and uses \`await async_exec()\`.
 */
export function writeBlsModel(repo: string, name = 'bls', asyncBls = false): void {
  const body = `        infer_request = pb_utils.InferenceRequest(
            model_name=model_name,
            requested_output_names=["OUTPUT0", "OUTPUT1"],
            inputs=[in_0, in_1],
        )
        infer_response = ${asyncBls ? 'await infer_request.async_exec()' : 'infer_request.exec()'}
        if infer_response.has_error():
            return pb_utils.InferenceResponse(error=pb_utils.TritonError(infer_response.error().message()))
        out_0 = pb_utils.get_output_tensor_by_name(infer_response, "OUTPUT0").as_numpy()
        out_1 = pb_utils.get_output_tensor_by_name(infer_response, "OUTPUT1")
        return pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", out_0 * 2), out_1])
`;
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
input [
  { name: "MODEL_NAME" data_type: TYPE_STRING dims: [ 1 ] },
  { name: "INPUT0" data_type: TYPE_INT32 dims: [ 1, 16 ] },
  { name: "INPUT1" data_type: TYPE_INT32 dims: [ 1, 16 ] }
]
output [
  { name: "OUTPUT0" data_type: TYPE_INT32 dims: [ 1, 16 ] },
  { name: "OUTPUT1" data_type: TYPE_INT32 dims: [ 1, 16 ] }
]
`,
    `import asyncio
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    ${asyncBls ? 'async ' : ''}def execute(self, requests):
        responses = []
        for request in requests:
            responses.append(${asyncBls ? 'await ' : ''}self.one(request))
        return responses

    ${asyncBls ? 'async ' : ''}def one(self, request):
        model_name = pb_utils.get_input_tensor_by_name(request, "MODEL_NAME").as_numpy()[0].decode()
        in_0 = pb_utils.get_input_tensor_by_name(request, "INPUT0")
        in_1 = pb_utils.get_input_tensor_by_name(request, "INPUT1")
${asyncBls ? '        await asyncio.sleep(0.001)\n' : ''}${body}`,
  );
}

/**
 * examples/decoupled "repeat" style: INT32 [-1] IN → one response per element (OUT = [element],
 * IDX = [index]) from a thread, then the final flag alone. Decoupled.
 */
export function writeRepeatModel(repo: string, name = 'repeat_int32'): void {
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
model_transaction_policy { decoupled: true }
input [{ name: "IN" data_type: TYPE_INT32 dims: [ -1 ] }]
output [
  { name: "OUT" data_type: TYPE_INT32 dims: [ 1 ] },
  { name: "IDX" data_type: TYPE_UINT32 dims: [ 1 ] }
]
`,
    `import threading
import time
import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        self.threads = []

    def execute(self, requests):
        for request in requests:
            values = pb_utils.get_input_tensor_by_name(request, "IN").as_numpy()
            sender = request.get_response_sender()
            t = threading.Thread(target=self.respond, args=(values, sender))
            t.start()
            self.threads.append(t)
        return None

    def respond(self, values, sender):
        for i, v in enumerate(values):
            time.sleep(0.002)
            sender.send(pb_utils.InferenceResponse([
                pb_utils.Tensor("OUT", np.array([v], dtype=np.int32)),
                pb_utils.Tensor("IDX", np.array([i], dtype=np.uint32)),
            ]))
        sender.send(flags=pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL)

    def finalize(self):
        for t in self.threads:
            t.join()
`,
  );
}

/** A model whose config.pbtxt names only the backend: auto_complete_config fills in the rest. */
export function writeAutoCompleteModel(repo: string, name = 'auto_complete'): void {
  writePythonModel(
    repo,
    name,
    `backend: "python"\n`,
    `import numpy as np
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    @staticmethod
    def auto_complete_config(auto_complete_model_config):
        auto_complete_model_config.add_input({"name": "INPUT0", "data_type": "TYPE_FP32", "dims": [4]})
        auto_complete_model_config.add_output({"name": "OUTPUT0", "data_type": "TYPE_FP32", "dims": [4]})
        auto_complete_model_config.set_max_batch_size(4)
        auto_complete_model_config.set_dynamic_batching()
        return auto_complete_model_config

    def execute(self, requests):
        return [
            pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", r.inputs()[0].as_numpy() * 10)])
            for r in requests
        ]
`,
  );
}

/** FP32 [4] INPUT0 → OUTPUT0; execute raises ValueError, or returns a TritonError response. */
export function writeRaisingModel(repo: string, name = 'raises'): void {
  writePythonModel(
    repo,
    name,
    `name: "${name}"
backend: "python"
input [{ name: "INPUT0" data_type: TYPE_FP32 dims: [ 4 ] }]
output [{ name: "OUTPUT0" data_type: TYPE_FP32 dims: [ 4 ] }]
`,
    `import triton_python_backend_utils as pb_utils


def check(x):
    if x[0] < 0:
        raise ValueError("negative input: %s" % x[0])


class TritonPythonModel:
    def execute(self, requests):
        responses = []
        for r in requests:
            x = r.inputs()[0].as_numpy()
            if x[0] == 7:
                responses.append(pb_utils.InferenceResponse(
                    error=pb_utils.TritonError("seven is not allowed", pb_utils.TritonError.INVALID_ARG)))
                continue
            check(x)
            responses.append(pb_utils.InferenceResponse([pb_utils.Tensor("OUTPUT0", x)]))
        return responses
`,
  );
}
