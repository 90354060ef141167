"""Nereid's ``triton_python_backend_utils``: the API ``model.py`` files import as ``pb_utils``.

Written for Nereid from the documented API of Triton's Python backend
(triton-inference-server/python_backend README.md, "Usage", "Business Logic Scripting",
"Decoupled mode", "Logging", "Auto-complete config"), so existing Triton models run unchanged:

- ``Tensor`` (``name()``, ``as_numpy()``, ``triton_dtype()``, ``shape()``, ``is_cpu()``,
  ``to_dlpack()``, ``Tensor.from_dlpack()``); BYTES tensors are numpy ``object`` arrays of ``bytes``.
- ``InferenceRequest``: the requests ``execute`` receives (``inputs()``, ``request_id()``,
  ``correlation_id()``, ``flags()``, ``parameters()``, ``requested_output_names()``,
  ``is_cancelled()``, ``get_response_sender()``) and, built by the model, BLS requests to any
  model the server serves (``exec()`` / ``await async_exec()``).
- ``InferenceResponse``, ``InferenceResponseSender`` (decoupled models), ``TritonError`` and its
  codes, ``TritonModelException``, ``Logger``, ``ModelConfig`` (``auto_complete_config``).
- Helpers: ``get_input_tensor_by_name``, ``get_output_tensor_by_name``,
  ``get_input_config_by_name``, ``get_output_config_by_name``,
  ``using_decoupled_model_transaction_policy``, ``triton_string_to_numpy``,
  ``triton_to_numpy_type``, ``numpy_to_triton_type``, ``serialize_byte_tensor``,
  ``deserialize_bytes_tensor``.

Only the stub (``nereid_stub.py``) talks to the server; it installs itself as ``_stub`` below.
"""

import json
import struct

import numpy as np

# Response flags (TRITONSERVER_ResponseCompleteFlag) and request flags (TRITONSERVER_RequestFlag).
TRITONSERVER_RESPONSE_COMPLETE_FINAL = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_START = 1
TRITONSERVER_REQUEST_FLAG_SEQUENCE_END = 2
TRITONSERVER_REQUEST_RELEASE_ALL = 1
TRITONSERVER_REQUEST_RELEASE_RESCHEDULE = 2

# Set by nereid_stub.py: the object that sends responses, BLS requests and log lines to the server.
_stub = None

# TRITONSERVER_DataType numbers, wire datatype names and numpy types.
_TYPES = [
    # (number, wire name, config name, numpy type)
    (1, "BOOL", "TYPE_BOOL", np.bool_),
    (2, "UINT8", "TYPE_UINT8", np.uint8),
    (3, "UINT16", "TYPE_UINT16", np.uint16),
    (4, "UINT32", "TYPE_UINT32", np.uint32),
    (5, "UINT64", "TYPE_UINT64", np.uint64),
    (6, "INT8", "TYPE_INT8", np.int8),
    (7, "INT16", "TYPE_INT16", np.int16),
    (8, "INT32", "TYPE_INT32", np.int32),
    (9, "INT64", "TYPE_INT64", np.int64),
    (10, "FP16", "TYPE_FP16", np.float16),
    (11, "FP32", "TYPE_FP32", np.float32),
    (12, "FP64", "TYPE_FP64", np.float64),
    (13, "BYTES", "TYPE_STRING", np.object_),
    # BF16 has no numpy type: its elements are carried as their uint16 bit patterns.
    (14, "BF16", "TYPE_BF16", np.uint16),
]
_NUMBER_TO_NUMPY = {n: t for n, _, _, t in _TYPES}
_NUMBER_TO_WIRE = {n: w for n, w, _, _ in _TYPES}
_WIRE_TO_NUMBER = {w: n for n, w, _, _ in _TYPES}
_WIRE_TO_NUMPY = {w: t for _, w, _, t in _TYPES}
TRITON_STRING_TO_NUMPY = {c: (bool if c == "TYPE_BOOL" else t) for _, _, c, t in _TYPES if c != "TYPE_BF16"}


def triton_to_numpy_type(data_type):
    """numpy type for a TRITONSERVER_DataType number (1 = BOOL … 13 = BYTES); None when unknown."""
    return _NUMBER_TO_NUMPY.get(data_type)


def numpy_to_triton_type(data_type):
    """TRITONSERVER_DataType number for a numpy dtype or type (np.float32 → 11); None when unknown."""
    if data_type == np.object_ or data_type == np.bytes_:
        return 13
    for number, _, _, np_type in _TYPES[:12]:
        if data_type == np_type:
            return number
    return None


def triton_string_to_numpy(triton_type_string):
    """numpy type for a config datatype name ("TYPE_FP32" → np.float32). Raises KeyError when unknown."""
    return TRITON_STRING_TO_NUMPY[triton_type_string]


def serialize_byte_tensor(input_tensor):
    """BYTES elements → Triton's serialized form: per element (row-major) a 4-byte little-endian
    length and the bytes. ``str`` and other objects are encoded as UTF-8 text. Returns ``bytes``
    (empty for an empty tensor), or None when the array is not of object or bytes dtype."""
    if input_tensor.dtype != np.object_ and input_tensor.dtype.type != np.bytes_:
        return None
    parts = []
    for item in input_tensor.reshape(-1, order="C"):
        if isinstance(item, (bytes, bytearray, memoryview)):
            b = bytes(item)
        elif isinstance(item, np.bytes_):
            b = item.tobytes()
        else:
            b = str(item).encode("utf-8")
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def deserialize_bytes_tensor(encoded_tensor):
    """Triton's serialized BYTES form → a 1-D numpy object array of ``bytes``.
    Raises TritonModelException when a length prefix runs past the end of the data."""
    view = memoryview(encoded_tensor)
    items = []
    offset = 0
    end = len(view)
    while offset < end:
        if offset + 4 > end:
            raise TritonModelException("BYTES tensor: truncated 4-byte length prefix at byte %d" % offset)
        (length,) = struct.unpack_from("<I", view, offset)
        offset += 4
        if offset + length > end:
            raise TritonModelException(
                "BYTES tensor: element of %d bytes at byte %d runs past the end (%d bytes)" % (length, offset, end)
            )
        items.append(bytes(view[offset : offset + length]))
        offset += length
    out = np.empty(len(items), dtype=np.object_)
    out[:] = items
    return out


class TritonError(Exception):
    """An error with a Triton status code, for ``InferenceResponse(error=...)`` (and raisable).

    ``TritonError(message, code=TritonError.INTERNAL)``; codes as TRITONSERVER_Error_Code. The
    server answers the request with ``message`` and the code's status (HTTP 400 for INVALID_ARG,
    500 INTERNAL, 404 NOT_FOUND, 503 UNAVAILABLE, 501 UNSUPPORTED …).
    """

    UNKNOWN = 0
    INTERNAL = 1
    NOT_FOUND = 2
    INVALID_ARG = 3
    UNAVAILABLE = 4
    UNSUPPORTED = 5
    ALREADY_EXISTS = 6
    CANCELLED = 7

    def __init__(self, message, code=1):
        super().__init__(message)
        self._message = message
        self._code = code

    def message(self):
        """The error message."""
        return self._message

    def code(self):
        """The error code (TritonError.INTERNAL …)."""
        return self._code

    def __str__(self):
        return str(self._message)


class TritonModelException(Exception):
    """Raised by pb_utils calls that fail (and by models); ``message()`` gives the text."""

    def __init__(self, msg=None):
        super().__init__(msg)
        self._msg = msg

    def message(self):
        """The exception message."""
        return self._msg

    def __str__(self):
        return "" if self._msg is None else str(self._msg)


class _DLPackCapsule:
    """Wraps a bare DLPack capsule (e.g. from torch.utils.dlpack.to_dlpack) for np.from_dlpack."""

    def __init__(self, capsule):
        self._capsule = capsule

    def __dlpack__(self, stream=None):
        return self._capsule

    def __dlpack_device__(self):
        return (1, 0)  # kDLCPU


class Tensor:
    """A named tensor of a request or response, holding a numpy array.

    ``Tensor(name, numpy_array)``: the datatype follows the array's dtype (np.object_ or np.bytes_
    → BYTES). numpy unicode arrays (dtype ``<U``) are refused as Triton does: use np.object_.
    Tensors live in CPU memory (``is_cpu()`` is always True in Nereid).
    """

    def __init__(self, name, numpy_array, triton_dtype=None):
        if not isinstance(numpy_array, np.ndarray):
            numpy_array = np.asarray(numpy_array)
        if numpy_array.dtype.type == np.str_ or numpy_array.dtype == np.void:
            raise TritonModelException(
                "Tensor dtype used for numpy_array is not support by Python backend. Please use np.object_ instead."
            )
        if triton_dtype is None:
            triton_dtype = numpy_to_triton_type(numpy_array.dtype)
            if triton_dtype is None:
                triton_dtype = numpy_to_triton_type(numpy_array.dtype.type)
            if triton_dtype is None:
                raise TritonModelException(
                    "tensor '%s': numpy dtype %s has no Triton datatype" % (name, numpy_array.dtype)
                )
        else:
            want = triton_to_numpy_type(triton_dtype)
            if want is not None and want is not np.object_ and numpy_array.dtype != want:
                numpy_array = numpy_array.view(want)
        self._name = name
        self._array = numpy_array
        self._triton_dtype = triton_dtype

    def name(self):
        """Tensor name."""
        return self._name

    def as_numpy(self):
        """The numpy array (BYTES: an object array of bytes)."""
        return self._array

    def triton_dtype(self):
        """TRITONSERVER_DataType number (11 for FP32 …)."""
        return self._triton_dtype

    def shape(self):
        """Shape as a list of ints."""
        return list(self._array.shape)

    def is_cpu(self):
        """True: Nereid keeps tensors in CPU memory."""
        return True

    def to_dlpack(self):
        """A DLPack capsule of the array (not for BYTES tensors)."""
        if self._array.dtype == np.object_:
            raise TritonModelException("tensor '%s': BYTES tensors cannot be exported with DLPack" % self._name)
        return self._array.__dlpack__()

    @staticmethod
    def from_dlpack(tensor_name, dlpack_tensor):
        """A Tensor from a DLPack capsule or an object with ``__dlpack__`` (e.g. a CPU torch tensor).
        Raises TritonModelException for device memory, which numpy cannot view."""
        source = dlpack_tensor if hasattr(dlpack_tensor, "__dlpack__") else _DLPackCapsule(dlpack_tensor)
        try:
            array = np.from_dlpack(source)
        except Exception as e:  # noqa: BLE001 - reported with the tensor name
            raise TritonModelException("from_dlpack of tensor '%s' failed: %s" % (tensor_name, e))
        return Tensor(tensor_name, array)

    def __repr__(self):
        return "Tensor(%r, %s %s)" % (self._name, _NUMBER_TO_WIRE.get(self._triton_dtype), self.shape())


def _wire_datatype(tensor):
    """The wire datatype name of a Tensor (FP32, BYTES …)."""
    return _NUMBER_TO_WIRE[tensor.triton_dtype()]


class InferenceRequest:
    """An inference request.

    In ``execute(requests)`` each element is one of these, made by the stub. Built by a model
    (BLS), it addresses another model the server serves::

        pb_utils.InferenceRequest(model_name="simple", inputs=[...],
                                  requested_output_names=["OUTPUT0"]).exec()

    Keyword arguments (as Triton's): model_name, inputs (list of Tensor), requested_output_names,
    request_id="", correlation_id=0, model_version=-1 (the latest ready version), flags=0,
    timeout=0 (µs; 0 = none), parameters (dict or JSON string), preferred_memory and trace
    (accepted, unused: Nereid keeps tensors in CPU memory and has no tracing).
    """

    def __init__(
        self,
        model_name=None,
        inputs=None,
        requested_output_names=None,
        request_id="",
        correlation_id=0,
        model_version=-1,
        flags=0,
        timeout=0,
        preferred_memory=None,
        trace=None,
        parameters=None,
    ):
        self._model_name = model_name
        self._inputs = list(inputs or [])
        self._requested_output_names = list(requested_output_names or [])
        self._request_id = request_id
        self._correlation_id = correlation_id
        self._model_version = model_version
        self._flags = flags
        self._timeout = timeout
        if parameters is None:
            parameters = {}
        elif isinstance(parameters, str):
            parameters = json.loads(parameters)
        if not isinstance(parameters, dict):
            raise TritonModelException("InferenceRequest parameters must be a dict or a JSON object string")
        self._parameters = parameters
        # Set by the stub on requests it hands to execute.
        self._exec_id = None
        self._index = None
        self._sender = None

    def inputs(self):
        """Input Tensors."""
        return self._inputs

    def request_id(self):
        """The client's request id ('' when none)."""
        return self._request_id

    def correlation_id(self):
        """Sequence correlation id (0 when none; int or str)."""
        return self._correlation_id

    def flags(self):
        """Request flags (TRITONSERVER_REQUEST_FLAG_SEQUENCE_START/END)."""
        return self._flags

    def parameters(self):
        """Request parameters as a JSON object string."""
        return json.dumps(self._parameters)

    def requested_output_names(self):
        """Names of the outputs the client asked for (every model output when it named none)."""
        return self._requested_output_names

    def model_name(self):
        """Model this (BLS) request addresses."""
        return self._model_name

    def timeout(self):
        """Timeout in microseconds (0 = none)."""
        return self._timeout

    def is_cancelled(self):
        """True once the client cancelled this request (disconnect, gRPC cancel)."""
        if _stub is None or self._exec_id is None:
            return False
        return _stub.is_cancelled(self._exec_id, self._index)

    def get_response_sender(self):
        """The response sender of a request to a decoupled model (same object on every call).
        Raises TritonModelException for models that are not decoupled."""
        if self._exec_id is None:
            raise TritonModelException("get_response_sender() is only available on requests given to execute()")
        if self._sender is None:
            if _stub is None or not _stub.decoupled:
                raise TritonModelException(
                    "get_response_sender() needs the decoupled transaction policy "
                    "(model_transaction_policy { decoupled: true } in config.pbtxt)"
                )
            self._sender = InferenceResponseSender(self)
        return self._sender

    def set_release_flags(self, flags):
        """Accepted for compatibility (rescheduling is not supported); does nothing."""
        return None

    def exec(self, decoupled=False):
        """Runs this request on the server (BLS) and waits.

        Returns an InferenceResponse (its ``has_error()``/``error()`` tell a failure), or with
        ``decoupled=True`` an iterator over every response of a decoupled model (the last one may be
        empty: check ``output_tensors()``).
        """
        return _require_stub().bls(self, decoupled)

    async def async_exec(self, decoupled=False):
        """``await``-able form of ``exec()`` for ``async def execute``; same results."""
        return await _require_stub().bls_async(self, decoupled)


def _require_stub():
    if _stub is None:
        raise TritonModelException("BLS requests can only be sent from a model running in Nereid's Python stub")
    return _stub


class InferenceResponse:
    """The response to one request: ``InferenceResponse(output_tensors=[...], error=None,
    parameters=None)``. With ``error`` (a TritonError) the client gets that error instead."""

    def __init__(self, output_tensors=None, error=None, parameters=None):
        if output_tensors is None:
            output_tensors = []
        if not isinstance(output_tensors, list):
            raise TritonModelException('"output_tensors" must be a list.')
        for t in output_tensors:
            if not isinstance(t, Tensor):
                raise TritonModelException("output_tensors must hold pb_utils.Tensor objects, got %r" % type(t))
        if error is not None and not isinstance(error, TritonError):
            error = TritonError(str(error))
        if isinstance(parameters, str):
            parameters = json.loads(parameters)
        self._output_tensors = output_tensors
        self._error = error
        self._parameters = parameters or {}

    def output_tensors(self):
        """Output Tensors."""
        return self._output_tensors

    def has_error(self):
        """True when the response carries an error."""
        return self._error is not None

    def error(self):
        """The TritonError, or None."""
        return self._error

    def parameters(self):
        """Response parameters as a JSON object string."""
        return json.dumps(self._parameters)


class InferenceResponseSender:
    """Sends the responses of one request of a decoupled model, from any thread, at any time.

    ``send(response=None, flags=0)``: ``flags=TRITONSERVER_RESPONSE_COMPLETE_FINAL`` marks the last
    one (``response`` may then be None). Sending after the final flag raises TritonModelException.
    """

    def __init__(self, request):
        self._request = request
        self._closed = False

    def send(self, response=None, flags=0):
        """Sends one response (or only the final flag). Raises TritonModelException when closed."""
        if self._closed:
            raise TritonModelException("Unable to send response. Response sender has been closed.")
        if response is None and flags != TRITONSERVER_RESPONSE_COMPLETE_FINAL:
            raise TritonModelException("send() without a response needs flags=TRITONSERVER_RESPONSE_COMPLETE_FINAL")
        if flags & TRITONSERVER_RESPONSE_COMPLETE_FINAL:
            self._closed = True
        _require_stub().send_response(self._request, response, flags)

    def is_cancelled(self):
        """True once the client cancelled the request."""
        return self._request.is_cancelled()


class LogLevel:
    """Log levels of Logger.log."""

    INFO = 0
    WARNING = 1
    ERROR = 2
    VERBOSE = 3


class Logger:
    """Writes into the server log, prefixed with the model and instance:
    ``pb_utils.Logger.log_info("text")`` (also log_warn, log_error, log_verbose, log(msg, level))."""

    @staticmethod
    def log(message, level=LogLevel.INFO):
        """Logs ``message`` at ``level`` (LogLevel.INFO/WARNING/ERROR/VERBOSE)."""
        letter = {LogLevel.INFO: "I", LogLevel.WARNING: "W", LogLevel.ERROR: "E", LogLevel.VERBOSE: "V"}.get(
            level, "I"
        )
        if _stub is not None:
            _stub.log(letter, str(message))
        else:
            print(message)

    @staticmethod
    def log_info(message):
        """Logs at info level."""
        Logger.log(message, LogLevel.INFO)

    @staticmethod
    def log_warn(message):
        """Logs at warning level."""
        Logger.log(message, LogLevel.WARNING)

    @staticmethod
    def log_error(message):
        """Logs at error level."""
        Logger.log(message, LogLevel.ERROR)

    @staticmethod
    def log_verbose(message):
        """Logs at verbose level 1 (printed with --log-verbose ≥ 1)."""
        Logger.log(message, LogLevel.VERBOSE)


def get_input_tensor_by_name(inference_request, name):
    """The input Tensor called ``name`` of a request, or None."""
    for t in inference_request.inputs():
        if t.name() == name:
            return t
    return None


def get_output_tensor_by_name(inference_response, name):
    """The output Tensor called ``name`` of a response, or None."""
    for t in inference_response.output_tensors():
        if t.name() == name:
            return t
    return None


def get_input_config_by_name(model_config, name):
    """The ``input`` entry called ``name`` of a model config dict, or None."""
    for t in model_config.get("input", []):
        if t.get("name") == name:
            return t
    return None


def get_output_config_by_name(model_config, name):
    """The ``output`` entry called ``name`` of a model config dict, or None."""
    for t in model_config.get("output", []):
        if t.get("name") == name:
            return t
    return None


def using_decoupled_model_transaction_policy(model_config):
    """True when the model config dict sets ``model_transaction_policy { decoupled: true }``."""
    return bool(model_config.get("model_transaction_policy", {}).get("decoupled", False))


class ModelConfig:
    """The model configuration given to ``auto_complete_config`` (Triton's JSON form).

    ``as_dict()`` reads it; ``set_max_batch_size``, ``set_dynamic_batching``, ``add_input``,
    ``add_output`` and ``set_model_transaction_policy`` complete it. Conflicts with what
    config.pbtxt already says raise ValueError naming the model and tensor.
    """

    def __init__(self, model_config):
        self._config = json.loads(model_config) if isinstance(model_config, str) else model_config
        self._config.setdefault("input", [])
        self._config.setdefault("output", [])
        self._config.setdefault("max_batch_size", 0)

    def _name(self):
        return self._config.get("name", "")

    def as_dict(self):
        """The configuration as a dict."""
        return self._config

    def set_max_batch_size(self, max_batch_size):
        """Sets max_batch_size. Raises ValueError when config.pbtxt sets a larger one."""
        if self._config["max_batch_size"] > max_batch_size:
            raise ValueError(
                "configuration specified max_batch_size %d, but in auto-complete-config function for model "
                "'%s' specified max_batch_size %d" % (self._config["max_batch_size"], self._name(), max_batch_size)
            )
        self._config["max_batch_size"] = max_batch_size

    def set_dynamic_batching(self):
        """Adds ``dynamic_batching {}`` unless set. Raises ValueError with another scheduler set."""
        for other in ("sequence_batching", "ensemble_scheduling"):
            if self._config.get(other):
                raise ValueError(
                    "Configuration specified scheduling_choice as '%s', but auto-complete-config function for "
                    "model '%s' tries to set scheduling_choice as 'dynamic_batching'" % (other, self._name())
                )
        if not self._config.get("dynamic_batching"):
            self._config["dynamic_batching"] = {}

    def _add(self, kind, tensor, allowed):
        if not isinstance(tensor, dict):
            raise ValueError("%s in auto-complete-config function for model '%s' must be a dict" % (kind, self._name()))
        for key in tensor:
            if key not in allowed:
                raise ValueError(
                    "%s '%s' in auto-complete-config function for model '%s' contains property other than %s."
                    % (kind, tensor.get("name"), self._name(), ", ".join("'%s'" % a for a in allowed))
                )
        for key in ("name", "data_type", "dims"):
            if key not in tensor:
                raise ValueError(
                    "%s '%s' in auto-complete-config function for model '%s' is missing '%s' property."
                    % (kind, tensor.get("name", ""), self._name(), key)
                )
        for current in self._config[kind]:
            if current.get("name") != tensor["name"]:
                continue
            cur_type = current.get("data_type", "TYPE_INVALID")
            if cur_type not in ("TYPE_INVALID", "", None) and cur_type != tensor["data_type"]:
                raise ValueError(
                    "unable to load model '%s', configuration expects datatype %s for %s '%s', model provides %s"
                    % (self._name(), cur_type, kind, tensor["name"], tensor["data_type"])
                )
            cur_dims = [int(d) for d in current.get("dims", [])]
            if cur_dims and cur_dims != [int(d) for d in tensor["dims"]]:
                raise ValueError(
                    "model '%s', tensor '%s': the model expects dims %s but the model configuration specifies dims %s"
                    % (self._name(), tensor["name"], list(tensor["dims"]), cur_dims)
                )
            current["data_type"] = tensor["data_type"]
            current["dims"] = list(tensor["dims"])
            if "optional" in tensor:
                current["optional"] = tensor["optional"]
            return
        self._config[kind].append(dict(tensor))

    def add_input(self, input):
        """Adds an input ``{'name', 'data_type', 'dims'[, 'optional']}`` (or completes the one
        config.pbtxt declares). Raises ValueError on unknown keys or a datatype/dims conflict."""
        self._add("input", input, ["name", "data_type", "dims", "optional"])

    def add_output(self, output):
        """Adds an output ``{'name', 'data_type', 'dims'}``. Raises ValueError as add_input."""
        self._add("output", output, ["name", "data_type", "dims"])

    def set_model_transaction_policy(self, transaction_policy_dict):
        """Sets ``model_transaction_policy`` (only key: 'decoupled'). Raises ValueError on other keys
        or when config.pbtxt already sets a different value."""
        for key in transaction_policy_dict:
            if key != "decoupled":
                raise ValueError(
                    "model transaction property in auto-complete-config function for model '%s' contains "
                    "property other than 'decoupled'" % self._name()
                )
        current = self._config.get("model_transaction_policy")
        want = bool(transaction_policy_dict.get("decoupled", False))
        if current and "decoupled" in current and bool(current["decoupled"]) != want:
            raise ValueError(
                "trying to change decoupled property in auto-complete-config for model '%s', which is already "
                "set to %s" % (self._name(), current["decoupled"])
            )
        self._config["model_transaction_policy"] = {"decoupled": want}
