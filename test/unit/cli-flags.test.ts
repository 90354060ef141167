// The `nereid` command line against tritonserver's: every documented Triton flag parses — accepted,
// or refused with a message saying Nereid does not support it, never "unknown option" — and Triton's
// validation messages come out word for word. Parsed in-process (no server starts).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CommanderError } from 'commander';
import { buildProgram } from '../../src/cli/program.js';
import type { ServeSettings } from '../../src/serve.js';

/**
 * Every option of tritonserver (server src/command_line_parser.cc, TritonParser::SetupOptions, at
 * triton-inference-server/server e1db8a6), with a value Triton accepts. `help` is left out: it
 * prints the usage and exits in both servers.
 */
const TRITON_FLAGS: ReadonlyArray<[flag: string, value: string | null]> = [
  ['id', 'triton'],
  ['exit-timeout-secs', '5'],
  ['model-store', '/models'],
  ['model-repository', '/models'],
  ['exit-on-error', 'false'],
  ['disable-auto-complete-config', null],
  ['strict-readiness', 'true'],
  ['model-control-mode', 'explicit'],
  ['repository-poll-secs', '5'],
  ['load-model', 'simple'],
  ['model-config-name', 'h100'],
  ['model-load-thread-count', '2'],
  ['model-load-retry-count', '1'],
  ['model-namespacing', 'false'],
  ['enable-peer-access', 'true'],
  ['allow-http', 'true'],
  ['http-address', '127.0.0.1'],
  ['http-port', '8000'],
  ['reuse-http-port', 'false'],
  ['http-header-forward-pattern', 'x-.*'],
  ['http-thread-count', '8'],
  ['http-max-input-size', '1048576'],
  ['http-restricted-api', 'model-repository:admin-key=admin-value'],
  ['allow-grpc', 'true'],
  ['grpc-address', '127.0.0.1'],
  ['grpc-port', '8001'],
  ['reuse-grpc-port', 'false'],
  ['grpc-header-forward-pattern', 'x-.*'],
  ['grpc-infer-thread-count', '4'],
  ['grpc-infer-allocation-pool-size', '8'],
  ['grpc-max-response-pool-size', '8'],
  ['grpc-use-ssl', 'false'],
  ['grpc-use-ssl-mutual', 'false'],
  ['grpc-server-cert', '/certs/server.crt'],
  ['grpc-server-key', '/certs/server.key'],
  ['grpc-root-cert', '/certs/ca.crt'],
  ['grpc-infer-response-compression-level', 'none'],
  ['grpc-keepalive-time', '7200000'],
  ['grpc-keepalive-timeout', '20000'],
  ['grpc-keepalive-permit-without-calls', 'false'],
  ['grpc-http2-max-pings-without-data', '2'],
  ['grpc-http2-min-recv-ping-interval-without-data', '300000'],
  ['grpc-http2-max-ping-strikes', '2'],
  ['grpc-max-connection-age', '60000'],
  ['grpc-max-connection-age-grace', '10000'],
  ['grpc-restricted-protocol', 'inference:infer-key=infer-value'],
  ['log-verbose', '1'],
  ['log-info', 'true'],
  ['log-warning', 'true'],
  ['log-error', 'true'],
  ['log-format', 'ISO8601'],
  ['log-file', '/tmp/nereid-flags-test.log'],
  ['allow-sagemaker', 'false'],
  ['sagemaker-port', '8080'],
  ['sagemaker-safe-port-range', '8000-8002'],
  ['sagemaker-thread-count', '8'],
  ['allow-vertex-ai', 'false'],
  ['vertex-ai-port', '8080'],
  ['vertex-ai-thread-count', '8'],
  ['vertex-ai-default-model', 'simple'],
  ['allow-metrics', 'true'],
  ['allow-gpu-metrics', 'false'],
  ['allow-cpu-metrics', 'true'],
  ['metrics-address', '127.0.0.1'],
  ['metrics-port', '8002'],
  ['metrics-interval-ms', '2000'],
  ['metrics-config', 'summary_latencies=true'],
  ['trace-config', 'rate=100'],
  ['cache-config', 'local,size=1048576'],
  ['cache-directory', '/opt/tritonserver/caches'],
  ['rate-limit', 'off'],
  ['rate-limit-resource', 'R1:10:0'],
  ['pinned-memory-pool-byte-size', '268435456'],
  ['cuda-memory-pool-byte-size', '0:67108864'],
  ['cuda-virtual-address-size', '0:1073741824'],
  ['response-cache-byte-size', '1048576'],
  ['min-supported-compute-capability', '6.0'],
  ['buffer-manager-thread-count', '0'],
  ['allow-client-shm', 'true'],
  ['backend-directory', '/opt/tritonserver/backends'],
  ['repoagent-directory', '/opt/tritonserver/repoagents'],
  ['backend-config', 'onnxruntime,default-max-batch-size=4'],
  ['host-policy', 'gpu_0,numa-node=0'],
  ['model-load-gpu-limit', '0:0.8'],
  ['strict-model-config', 'false'],
  ['trace-file', '/tmp/nereid-flags-trace.json'],
  ['trace-level', 'TIMESTAMPS'],
  ['trace-rate', '1000'],
  ['trace-count', '-1'],
  ['trace-log-frequency', '0'],
];

/** Flags Nereid refuses for the sample value above (features it does not have), by design. */
const NOT_SUPPORTED = new Set(['cache-config', 'rate-limit-resource', 'response-cache-byte-size']);

interface Outcome {
  settings?: ServeSettings;
  error?: string;
}

/** Parses `args` as `nereid …` would (plus a repository), capturing the settings or the error. */
async function parse(args: string[]): Promise<Outcome> {
  let settings: ServeSettings | undefined;
  let stderr = '';
  const program = buildProgram(async (s) => {
    settings = s;
  });
  program.exitOverride().configureOutput({ writeErr: (s) => (stderr += s), writeOut: () => undefined });
  try {
    await program.parseAsync(['node', 'nereid', ...args], { from: 'node' });
  } catch (e) {
    if (!(e instanceof CommanderError)) throw e;
    return { error: stderr || e.message };
  }
  return { settings };
}

/** The arguments that make one sample flag valid on its own (load-model needs explicit mode). */
function argsFor(flag: string, value: string | null): string[] {
  const arg = value === null ? `--${flag}` : `--${flag}=${value}`;
  const extra = flag === 'load-model' ? ['--model-control-mode=explicit'] : [];
  return flag === 'model-repository' ? [arg, ...extra] : ['--model-repository=/models', arg, ...extra];
}

describe('tritonserver flags', () => {
  test(`all ${TRITON_FLAGS.length} of them parse: accepted, or refused as not supported`, async () => {
    const unknown: string[] = [];
    for (const [flag, value] of TRITON_FLAGS) {
      const out = await parse(argsFor(flag, value));
      if (out.error && /unknown option/.test(out.error)) unknown.push(flag);
      if (NOT_SUPPORTED.has(flag)) {
        assert.match(out.error ?? '', /is not supported by Nereid/, `--${flag}=${value}`);
        assert.match(out.error ?? '', new RegExp(`^Bad option: "--${flag}"\\.`), `--${flag}`);
      } else {
        assert.equal(out.error, undefined, `--${flag}=${value} was refused: ${out.error}`);
        assert.ok(out.settings, `--${flag}`);
      }
    }
    assert.deepEqual(unknown, []);
  });

  test('flags with an effect reach the settings', async () => {
    const { settings } = await parse([
      '--model-repository=/models',
      '--allow-client-shm=true',
      '--model-load-retry-count=2',
      '--http-restricted-api=model-repository:admin-key=admin-value',
      '--http-restricted-api=inference,metadata:infer-key=infer-value',
      '--grpc-restricted-protocol=health:k=v',
      '--grpc-max-connection-age=60000',
      '--grpc-use-ssl=true',
      '--grpc-server-cert=/c.pem',
      '--grpc-server-key=/k.pem',
      '--http-header-forward-pattern=x-.*',
    ]);
    assert.ok(settings);
    assert.equal(settings.allowClientShm, true);
    assert.equal(settings.modelLoadRetryCount, 2);
    assert.deepEqual(settings.httpRestrictedApis, {
      'model-repository': { header: 'admin-key', value: 'admin-value' },
      inference: { header: 'infer-key', value: 'infer-value' },
      metadata: { header: 'infer-key', value: 'infer-value' },
    });
    assert.deepEqual(settings.grpcRestrictedProtocols, {
      health: { header: 'triton-grpc-protocol-k', value: 'v' },
    });
    assert.equal(settings.grpcMaxConnectionAgeMs, 60000);
    assert.deepEqual(settings.grpcSsl, {
      certFile: '/c.pem',
      keyFile: '/k.pem',
      rootCertFile: undefined,
      mutual: false,
    });
    assert.equal(settings.httpHeaderForwardPattern, 'x-.*');
  });

  test("Triton's messages for refused values", async () => {
    const cases: Array<[string[], string]> = [
      [
        ['--http-max-input-size=0'],
        'Bad option: "--http-max-input-size".\nError: --http-max-input-size must be greater than 0.',
      ],
      [['--http-max-input-size=-1024'], 'Error: --http-max-input-size must be greater than 0.'],
      [
        [
          '--http-restricted-api=model-repository,health:k1=v1',
          '--http-restricted-api=metadata,health:k2=v2',
        ],
        "restricted api 'health' can not be specified in multiple config groups",
      ],
      [['--http-restricted-api=model-reposit,health:k1=v1'], "unknown restricted api 'model-reposit'"],
      [
        [
          '--grpc-restricted-protocol=model-repository,health:k1=v1',
          '--grpc-restricted-protocol=metadata,health:k2=v2',
        ],
        "restricted protocol 'health' can not be specified in multiple config groups",
      ],
      [
        ['--grpc-restricted-protocol=model-reposit,health:k1=v1'],
        "unknown restricted protocol 'model-reposit'",
      ],
      [
        ['--http-restricted-api=health'],
        "--http-restricted-api option format is '<config name>:<setting>=<value>'. Got health",
      ],
      [
        ['--load-model=simple'],
        "Error: Use of '--load-model' requires setting '--model-control-mode=explicit' as well.",
      ],
      [
        ['--grpc-infer-thread-count=1'],
        'invalid argument for --grpc_infer_thread_count. Must be in the range 2 to 128.',
      ],
      [['--grpc-max-response-pool-size=0'], 'Error: --grpc-max-response-pool-size must be greater than 0.'],
      [['--model-config-name='], 'Error: empty argument for --model-config-name'],
      [['--rate-limit=sometimes'], 'invalid argument for --rate-limit'],
      [
        ['--response-cache-byte-size=1024', '--cache-config=local,size=1024'],
        'Error: Incompatible flags --response-cache-byte-size and --cache-config both provided.',
      ],
      [
        ['--cuda-memory-pool-byte-size=64'],
        "--cuda-memory-pool-byte-size option format is '<integer>:<integer>'. Got 64",
      ],
      [['--allow-sagemaker=true'], 'the SageMaker endpoint is not supported by Nereid'],
      [['--model-namespacing=true'], 'model namespacing is not supported by Nereid'],
      [['--grpc-use-ssl=true'], 'TLS needs --grpc-server-cert and --grpc-server-key'],
    ];
    for (const [args, message] of cases) {
      const out = await parse(['--model-repository=/models', ...args]);
      assert.ok(out.error?.includes(message), `${args.join(' ')}: ${out.error}`);
    }
  });
});
