"""Nereid's Python stub: runs one instance of a ``model.py`` (``TritonPythonModel``) for the server.

Started by src/backends/python/instance.ts as ``<python> nereid_stub.py <socket path>``: the stub
listens on that Unix socket, the server connects, and the path is removed. stdout and stderr are
left to the model: the server copies their lines into its log, prefixed with the model and
instance names.

Framing on the socket, both directions (documented in src/backends/python/protocol.ts):

    u32 LE  meta length M
    u64 LE  payload length P
    M bytes meta: a UTF-8 JSON object; "t" is the message type, "tensors" lists
            [name, datatype, shape, byte size] of the tensors in the payload, in order
    P bytes payload: the raw bytes of those tensors back to back (Triton's binary tensor layout:
            little-endian, row-major; BYTES as 4-byte length-prefixed elements)

Tensor bytes are read with ``readinto`` straight into a fresh numpy buffer per tensor (inputs are
views of it, no further copy) and written with one ``os.writev`` of the arrays' own memory.
"""

import asyncio
import importlib.util
import inspect
import io
import json
import mmap
import os
import queue
import socket
import struct
import sys
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

import triton_python_backend_utils as pb_utils  # noqa: E402

PREFIX = struct.Struct("<IQ")
CODE_INTERNAL = 1


def format_exception(e):
    """``<Type>: <message>`` plus the model's frames, innermost first, as Triton's stub reports."""
    frames = [f for f in traceback.extract_tb(e.__traceback__) if os.path.abspath(f.filename) != __file__]
    text = "%s: %s" % (type(e).__name__, e)
    if frames:
        text += "\n\nAt:\n" + "".join("  %s(%d): %s\n" % (f.filename, f.lineno, f.name) for f in reversed(frames))
    return text


def error_of(e):
    """[code, message] of an exception for the wire."""
    if isinstance(e, pb_utils.TritonError):
        return [e.code(), e.message()]
    return [CODE_INTERNAL, format_exception(e)]


class Channel:
    """Frame reading and writing on the socket to the server (reads from one thread, writes from any)."""

    def __init__(self, path):
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind(path)
        server.listen(1)
        self.sock, _ = server.accept()
        server.close()
        try:
            os.unlink(path)
        except OSError:
            pass
        for opt in (socket.SO_SNDBUF, socket.SO_RCVBUF):
            try:
                self.sock.setsockopt(socket.SOL_SOCKET, opt, 4 << 20)
            except OSError:
                pass
        fd = self.sock.fileno()
        self.fd = fd
        self.reader = io.open(fd, "rb", buffering=1 << 16, closefd=False)
        self.lock = threading.Lock()
        self.shm_fd = None
        self.shm_map = None
        # Inputs arriving through the shared-memory file become numpy views of it (no copy) unless
        # the model is decoupled: its responses may be sent after execute returned, when the server
        # may already have written the next request's inputs there.
        self.shm_views = True

    def open_shm(self, path):
        """Opens the shared-memory file the server writes large execute inputs into."""
        try:
            self.shm_fd = os.open(path, os.O_RDWR)
        except OSError:
            self.shm_fd = None
        return self.shm_fd is not None

    def _shm_view(self, offset, size):
        """``size`` bytes at ``offset`` of the shared-memory file, as a writable uint8 numpy view.

        The view is valid until the server writes the next execute's inputs, which it does only
        after this execute's responses arrived; models that keep inputs beyond execute copy them.
        """
        end = offset + size
        if self.shm_map is None or len(self.shm_map) < end:
            length = os.fstat(self.shm_fd).st_size
            if length < end:
                raise EOFError
            self.shm_map = mmap.mmap(self.shm_fd, length, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        return np.frombuffer(self.shm_map, dtype=np.uint8, count=size, offset=offset)

    def _read_exact(self, n):
        data = self.reader.read(n)
        if data is None or len(data) < n:
            raise EOFError
        return data

    def _readinto(self, buf):
        view = memoryview(buf).cast("B")
        got = 0
        while got < len(view):
            n = self.reader.readinto(view[got:])
            if not n:
                raise EOFError
            got += n

    def read(self):
        """The next frame as (meta dict, list of Tensor objects). Raises EOFError at the end."""
        meta_len, payload_len = PREFIX.unpack(self._read_exact(PREFIX.size))
        meta = json.loads(self._read_exact(meta_len))
        tensors = []
        shm = meta.get("shm")
        offset = shm[0] if shm else 0
        for name, datatype, shape, size in meta.get("tensors", ()):
            if size and shm and self.shm_views and datatype != "BYTES":
                raw = self._shm_view(offset, size)
                offset += size
            elif size and shm:
                raw = bytearray(size) if datatype == "BYTES" else np.empty(size, dtype=np.uint8)
                got = os.preadv(self.shm_fd, [raw], offset)
                if got != size:
                    raise EOFError
                offset += size
            else:
                raw = bytearray(size) if datatype == "BYTES" else np.empty(size, dtype=np.uint8)
                if size:
                    self._readinto(raw)
            if datatype == "BYTES":
                array = pb_utils.deserialize_bytes_tensor(raw).reshape(shape)
            else:
                array = raw.view(pb_utils._WIRE_TO_NUMPY[datatype]).reshape(shape)
            t = pb_utils.Tensor.__new__(pb_utils.Tensor)
            t._name = name
            t._array = array
            t._triton_dtype = pb_utils._WIRE_TO_NUMBER[datatype]
            tensors.append(t)
        return meta, tensors

    def send(self, meta, tensors=()):
        """Writes one frame: ``meta`` (its "tensors" filled in here) and the tensors' bytes."""
        descs = []
        bufs = []
        for t in tensors:
            array = t.as_numpy()
            datatype = pb_utils._wire_datatype(t)
            if datatype == "BYTES":
                data = pb_utils.serialize_byte_tensor(np.asarray(array, dtype=np.object_)) or b""
                buf = memoryview(data)
            else:
                flat = np.ascontiguousarray(array).reshape(-1)
                buf = memoryview(flat.view(np.uint8))
            descs.append([t.name(), datatype, list(np.shape(array)), buf.nbytes])
            if buf.nbytes:
                bufs.append(buf)
        if descs:
            meta["tensors"] = descs
        meta_bytes = json.dumps(meta, separators=(",", ":")).encode("utf-8")
        total = sum(b.nbytes for b in bufs)
        iov = [PREFIX.pack(len(meta_bytes), total) + meta_bytes] + bufs
        with self.lock:
            while iov:
                n = os.writev(self.fd, iov[:1024])
                while iov and n >= len(iov[0]):
                    n -= len(iov[0])
                    iov.pop(0)
                if n:
                    iov[0] = memoryview(iov[0])[n:]


class Stub:
    """The stub: owns the model, runs executes in the main thread, reads frames in another."""

    def __init__(self, channel):
        self.channel = channel
        self.model = None
        self.decoupled = False
        self.instance_name = ""
        self.work = queue.SimpleQueue()
        self.cancelled = set()
        self.bls_pending = {}
        self.bls_next = 1
        self.bls_lock = threading.Lock()
        self.loop = None
        self.loop_lock = threading.Lock()

    # --- pb_utils hooks -------------------------------------------------------------------

    def log(self, level, message):
        """pb_utils.Logger → the server log."""
        self.channel.send({"t": "log", "level": level, "msg": message})

    def is_cancelled(self, exec_id, index):
        """Whether the server reported request ``index`` of execution ``exec_id`` cancelled."""
        return (exec_id, index) in self.cancelled

    def send_response(self, request, response, flags):
        """A decoupled model's response (or bare final flag) for one request."""
        meta = {"t": "response", "id": request._exec_id, "index": request._index, "flags": flags}
        tensors = ()
        if response is not None:
            meta["response"], tensors = self.encode_response(request, response)
        if flags & pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL:
            self.cancelled.discard((request._exec_id, request._index))
        self.channel.send(meta, tensors)

    def encode_response(self, request, response):
        """(wire response, tensors) of an InferenceResponse; only requested outputs are kept."""
        if not isinstance(response, pb_utils.InferenceResponse):
            raise pb_utils.TritonModelException(
                "execute must return pb_utils.InferenceResponse objects, got %s" % type(response).__name__
            )
        wanted = request._requested_output_names
        tensors = [t for t in response.output_tensors() if not wanted or t.name() in wanted]
        wire = {}
        if response.has_error():
            err = response.error()
            wire["error"] = [err.code(), err.message()]
        if response._parameters:
            wire["parameters"] = response._parameters
        return wire, tensors

    def bls_send(self, request, decoupled, sink):
        """Sends a BLS request; ``sink(meta, tensors)`` gets each bls_response frame."""
        if not request._model_name:
            raise pb_utils.TritonModelException("BLS InferenceRequest needs a model_name")
        with self.bls_lock:
            bid = self.bls_next
            self.bls_next += 1
            self.bls_pending[bid] = sink
        version = request._model_version
        wire = {
            "model": request._model_name,
            "version": "" if version is None or int(version) < 0 else str(version),
            "id": request._request_id,
            "correlation_id": request._correlation_id,
            "flags": request._flags,
            "timeout": request._timeout,
            "parameters": request._parameters,
            "outputs": request._requested_output_names,
        }
        self.channel.send({"t": "bls", "bid": bid, "decoupled": bool(decoupled), "request": wire}, request._inputs)

    @staticmethod
    def bls_response(meta, tensors):
        """An InferenceResponse from a bls_response frame."""
        r = meta.get("response")
        if r is None:
            return pb_utils.InferenceResponse([])
        error = None
        if r.get("error"):
            error = pb_utils.TritonError(r["error"][1], r["error"][0])
        return pb_utils.InferenceResponse(tensors, error, r.get("parameters"))

    def bls(self, request, decoupled):
        """pb_utils.InferenceRequest.exec()."""
        q = queue.SimpleQueue()
        self.bls_send(request, decoupled, lambda meta, tensors: q.put((meta, tensors)))
        if not decoupled:
            return self.bls_response(*q.get())

        def responses():
            while True:
                meta, tensors = q.get()
                yield self.bls_response(meta, tensors)
                if meta.get("final"):
                    return

        return responses()

    async def bls_async(self, request, decoupled):
        """pb_utils.InferenceRequest.async_exec()."""
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        collected = []

        def sink(meta, tensors):
            collected.append(self.bls_response(meta, tensors))
            if meta.get("final") or not decoupled:
                loop.call_soon_threadsafe(lambda: fut.done() or fut.set_result(None))

        self.bls_send(request, decoupled, sink)
        await fut
        return iter(collected) if decoupled else collected[0]

    # --- model lifecycle ------------------------------------------------------------------

    def load_module(self, path):
        """Imports model.py (its folder goes first on sys.path) and returns TritonPythonModel."""
        folder = os.path.dirname(os.path.abspath(path))
        if folder not in sys.path:
            sys.path.insert(1, folder)
        name = os.path.splitext(os.path.basename(path))[0]
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        cls = getattr(module, "TritonPythonModel", None)
        if cls is None:
            raise pb_utils.TritonModelException("%s does not define class TritonPythonModel" % path)
        return cls

    def event_loop(self):
        """The stub's asyncio loop (for ``async def execute``), running in its own thread."""
        with self.loop_lock:
            if self.loop is None:
                self.loop = asyncio.new_event_loop()
                threading.Thread(target=self.loop.run_forever, name="asyncio", daemon=True).start()
            return self.loop

    def read_loop(self):
        """Reader thread: executes and control messages go to the main thread; BLS answers and
        cancellations are handled here. The end of the socket (server gone) ends the process."""
        try:
            while True:
                meta, tensors = self.channel.read()
                t = meta["t"]
                if t == "bls_response":
                    bid = meta["bid"]
                    sink = self.bls_pending.get(bid)
                    if meta.get("final", True):
                        self.bls_pending.pop(bid, None)
                    if sink is not None:
                        sink(meta, tensors)
                elif t == "cancel":
                    self.cancelled.add((meta["id"], meta["index"]))
                else:
                    self.work.put((meta, tensors))
        except EOFError:
            os._exit(0)
        except BaseException:  # noqa: BLE001 - a deaf stub would hang every request: die loudly
            sys.stderr.write("stub reader failed:\n" + traceback.format_exc())
            sys.stderr.flush()
            os._exit(1)

    def make_requests(self, meta, tensors):
        requests = []
        for i, r in enumerate(meta["requests"]):
            req = pb_utils.InferenceRequest.__new__(pb_utils.InferenceRequest)
            req._model_name = None
            req._inputs = [tensors[j] for j in r["inputs"]]
            req._requested_output_names = r["outputs"]
            req._request_id = r.get("id", "")
            req._correlation_id = r.get("correlation_id", 0)
            if r.get("correlation_id_uint64"):
                req._correlation_id = int(req._correlation_id)
            req._model_version = -1
            req._flags = r.get("flags", 0)
            req._timeout = 0
            req._parameters = r.get("parameters", {})
            req._exec_id = meta["id"]
            req._index = i
            req._sender = None
            requests.append(req)
        return requests

    def execute(self, meta, tensors):
        """One execute message: runs execute(requests) and answers with the responses (or, for
        decoupled models, an "executed" message; responses go through the response senders)."""
        t0 = time.perf_counter_ns()
        exec_id = meta["id"]
        requests = self.make_requests(meta, tensors)
        t1 = time.perf_counter_ns()
        try:
            result = self.model.execute(requests)
            if inspect.isawaitable(result):
                future = asyncio.run_coroutine_threadsafe(result, self.event_loop())
                if self.decoupled:
                    future.add_done_callback(lambda f: self.async_decoupled_done(f, requests))
                    result = None
                else:
                    result = future.result()
        except BaseException as e:  # noqa: BLE001 - every failure becomes an error response
            if isinstance(e, (KeyboardInterrupt, SystemExit)):
                raise
            err = error_of(e)
            err[1] = self.failed_message(err[1]) if err[0] == CODE_INTERNAL else err[1]
            self.channel.send({"t": "executed" if self.decoupled else "responses", "id": exec_id, "error": err})
            self.forget(exec_id, len(requests))
            return
        t2 = time.perf_counter_ns()
        if self.decoupled:
            if result is not None:
                msg = "Python model '%s' is using the decoupled mode and the execute function must return None." % (
                    self.instance_name
                )
                self.channel.send({"t": "executed", "id": exec_id, "error": [CODE_INTERNAL, msg]})
            else:
                self.channel.send({"t": "executed", "id": exec_id, "timings": [t1 - t0, t2 - t1, 0]})
            return
        try:
            if not isinstance(result, (list, tuple)):
                raise pb_utils.TritonModelException(
                    "Expected a list in the execute return, found type '%s'." % type(result).__name__
                )
            if len(result) != len(requests):
                raise pb_utils.TritonModelException(
                    "Number of InferenceResponse objects do not match the number of InferenceRequest objects. "
                    "InferenceRequest(s) size is:%d, and InferenceResponse(s) size is:%d"
                    % (len(requests), len(result))
                )
            wires = []
            out = []
            for req, res in zip(requests, result):
                wire, ts = self.encode_response(req, res)
                wire["outputs"] = list(range(len(out), len(out) + len(ts)))
                out.extend(ts)
                wires.append(wire)
            t3 = time.perf_counter_ns()
            self.channel.send(
                {"t": "responses", "id": exec_id, "responses": wires, "timings": [t1 - t0, t2 - t1, t3 - t2]}, out
            )
        except Exception as e:  # noqa: BLE001
            err = error_of(e)
            self.channel.send({"t": "responses", "id": exec_id, "error": [err[0], self.failed_message(err[1])]})
        self.forget(exec_id, len(requests))

    def failed_message(self, message):
        return "Failed to process the request(s) for model instance '%s', message: %s" % (self.instance_name, message)

    def forget(self, exec_id, count):
        if self.cancelled:
            for i in range(count):
                self.cancelled.discard((exec_id, i))

    def async_decoupled_done(self, future, requests):
        """An ``async def execute`` of a decoupled model ended: report its exception, if any, on
        every request whose response sender is still open."""
        e = future.exception()
        if e is None:
            return
        err = error_of(e)
        message = self.failed_message(err[1])
        for req in requests:
            sender = req._sender
            if sender is not None and sender._closed:
                continue
            if sender is not None:
                sender._closed = True
            self.channel.send(
                {
                    "t": "response",
                    "id": req._exec_id,
                    "index": req._index,
                    "flags": pb_utils.TRITONSERVER_RESPONSE_COMPLETE_FINAL,
                    "response": {"error": [err[0], message]},
                }
            )

    def run(self):
        """Main: init handshake, then executes until finalize (or the server goes away)."""
        pb_utils._stub = self
        meta, _ = self.channel.read()
        if meta["t"] == "auto_complete":
            self.auto_complete(meta)
            return
        args = meta["args"]
        shm = bool(meta.get("shm_path")) and self.channel.open_shm(meta["shm_path"])
        self.instance_name = args["model_instance_name"]
        self.decoupled = bool(meta.get("decoupled"))
        self.channel.shm_views = not self.decoupled
        try:
            cls = self.load_module(meta["model_path"])
            self.model = cls()
            init = getattr(self.model, "initialize", None)
            if init is not None:
                result = init(args)
                if inspect.isawaitable(result):
                    asyncio.run_coroutine_threadsafe(result, self.event_loop()).result()
        except BaseException as e:  # noqa: BLE001
            self.channel.send({"t": "init_error", "message": format_exception(e)})
            sys.stdout.flush()
            os._exit(0)
        has_is_ready = callable(getattr(self.model, "is_ready", None))
        self.channel.send({"t": "ready", "pid": os.getpid(), "has_is_ready": has_is_ready, "shm": shm})
        threading.Thread(target=self.read_loop, name="reader", daemon=True).start()
        while True:
            meta, tensors = self.work.get()
            t = meta["t"]
            if t == "execute":
                self.execute(meta, tensors)
            elif t == "is_ready":
                try:
                    ready = bool(self.model.is_ready())
                except Exception as e:  # noqa: BLE001
                    pb_utils.Logger.log_error("is_ready() raised %s" % format_exception(e))
                    ready = False
                self.channel.send({"t": "is_ready", "ready": ready})
            elif t == "finalize":
                fin = getattr(self.model, "finalize", None)
                error = None
                try:
                    if fin is not None:
                        result = fin()
                        if inspect.isawaitable(result):
                            asyncio.run_coroutine_threadsafe(result, self.event_loop()).result()
                except Exception as e:  # noqa: BLE001
                    error = format_exception(e)
                sys.stdout.flush()
                sys.stderr.flush()
                self.channel.send({"t": "finalized", "error": error})
                os._exit(0)

    def auto_complete(self, meta):
        """Runs TritonPythonModel.auto_complete_config on the config and sends the result."""
        try:
            cls = self.load_module(meta["model_path"])
            config = pb_utils.ModelConfig(meta["config"])
            fn = getattr(cls, "auto_complete_config", None)
            if fn is not None:
                result = fn(config)
                if result is not None:
                    config = result
            self.channel.send({"t": "auto_completed", "config": json.dumps(config.as_dict())})
        except BaseException as e:  # noqa: BLE001
            self.channel.send({"t": "init_error", "message": format_exception(e)})
        sys.stdout.flush()
        os._exit(0)


if __name__ == "__main__":
    Stub(Channel(sys.argv[1])).run()
