"""The data-only channel between a grading judge and a learner's kernel.

While a notebook is graded, its test cells run in a judge process
(``coursekit.judge``), never in the learner's kernel. The judge reaches
the learner's functions and objects through this channel, and the
learner's code reaches what a test hands it (a callback, a correct layer
to build on) the same way. Every message is JSON that holds only data:

- ``None``, bools, ints, floats, strings, tuples, slices and ``...``;
- lists and dicts, NumPy arrays (dtype, shape and raw bytes: no pickle;
  booleans, integers, floats and complex numbers only), NumPy scalars and
  NumPy random generators (their state): *shared* values, mirrored on the
  other side and kept equal there, so that an array changed in place on
  one side (``net.params["W1"][...] = P``) is changed on the other before
  the next message is read;
- handles: numbers that name an object which stays on its own side (a
  learner's function, class or instance; a test's callback). Calling a
  handle, reading or setting its attributes, are requests.

Nothing received is ever executed or unpickled: a learner's kernel can
send the judge data, and data is all a verdict is computed from.

Each side is an :class:`Endpoint`. Its transport sends one message and
returns the next one received; a request waits for its reply while it
serves the requests that arrive meanwhile (callbacks, nested to any
depth). The kernel's end is :func:`serve`, which the judge starts with
an ``execute_request`` and talks to through the kernel's stdin channel
(``input_request`` / ``input_reply``), so no port or file is opened.
"""

import base64
import builtins
import json
import sys
import warnings
import weakref

import numpy as np

# dtype kinds an array or scalar may have on the wire
_KINDS = "biufc"
_BIT_GENERATORS = ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64")


class ChannelError(Exception):
    """A message could not be built or read (an unsupported value)."""


class SessionEnded(BaseException):
    """The judge ended the session (a BaseException: a learner's
    ``except Exception`` does not stop it)."""


class RemoteError(Exception):
    """An exception raised on the other side, by type name and message."""

    remote_type = "Exception"


_EXCEPTION_CLASSES = {}


def exception_class(name):
    """A local class for an exception the other side raised as ``name``.

    A built-in exception keeps its kind (``ValueError`` is caught by
    ``except ValueError``); every such class is also a RemoteError.
    ``DelegationError`` is dlcore's own.
    """
    if name in _EXCEPTION_CLASSES:
        return _EXCEPTION_CLASSES[name]
    if name == "DelegationError":
        from dlcore.guard import DelegationError
        cls = DelegationError
    else:
        base = getattr(builtins, name, None)
        bases = (RemoteError,)
        if (isinstance(base, type) and issubclass(base, Exception)
                and base is not Exception):
            bases = (base, RemoteError)
        try:
            cls = type(name, bases, {"remote_type": name})
        except TypeError:  # a layout conflict: keep the name only
            cls = type(name, (RemoteError,), {"remote_type": name})
    _EXCEPTION_CLASSES[name] = cls
    return cls


def _text(value, limit=2000):
    """``str(value)``, never failing, at most ``limit`` characters."""
    try:
        text = str(value)
    except BaseException:  # a learner's __str__ may raise anything
        text = "<unprintable>"
    if not isinstance(text, str):
        text = "<unprintable>"
    return text if len(text) <= limit else text[:limit] + " [...]"


def _b64(raw):
    return base64.b64encode(raw).decode("ascii")


def _dtype(text):
    try:
        dt = np.dtype(str(text))
    except TypeError:
        raise ChannelError(f"unknown dtype {text!r}") from None
    if dt.kind not in _KINDS or dt.hasobject or dt.fields:
        raise ChannelError(f"dtype {dt} is not data the channel carries")
    return dt


def _byte_bounds(a):
    try:
        from numpy.lib.array_utils import byte_bounds
    except ImportError:  # NumPy 1.x
        byte_bounds = np.byte_bounds
    return byte_bounds(a)


def _array_body(a):
    """An array's wire form. A view that is not C-contiguous (a transposed
    array, a slice with steps) keeps its layout: the bytes it spans go
    with its strides, so ``x.ravel()`` copies there as it does here."""
    dt = _dtype(a.dtype)
    out = {"A": dt.str, "shape": list(a.shape)}
    if a.flags.c_contiguous or a.size == 0 or not hasattr(a, "ctypes"):
        out["b"] = _b64(np.ascontiguousarray(a).tobytes())
        return out
    lo, hi = _byte_bounds(a)
    if hi - lo > 16 * a.nbytes + 4096:  # a sparse view of a large array
        out["b"] = _b64(np.ascontiguousarray(a).tobytes())
        return out
    import ctypes

    out["b"] = _b64(ctypes.string_at(lo, hi - lo))
    out["strides"] = list(a.strides)
    out["offset"] = a.__array_interface__["data"][0] - lo
    return out


def _array_from(tree):
    """The array of :func:`_array_body`'s form; NumPy itself checks that
    the strides stay inside the bytes received."""
    dt = _dtype(tree["A"])
    shape = tuple(int(n) for n in tree["shape"])
    raw = base64.b64decode(tree["b"])
    if "strides" not in tree:
        if len(raw) != dt.itemsize * int(np.prod(shape, dtype=np.int64)):
            raise ChannelError("an array whose bytes do not fit its shape")
        return np.frombuffer(raw, dtype=dt).reshape(shape).copy()
    strides = tuple(int(n) for n in tree["strides"])
    try:
        return np.ndarray(shape, dtype=dt, buffer=bytearray(raw),
                          offset=int(tree.get("offset", 0)), strides=strides)
    except (TypeError, ValueError) as err:
        raise ChannelError(f"an array that does not fit its bytes: {err}")


class Remote:
    """An object of the other side, reached through requests.

    Calls, attribute reads and writes, ``[]``, ``len``, ``bool``, ``in``
    and iteration go to the other side (a bound method once: it is kept
    for the next call); everything else is local and
    plain: ``==`` is identity, ``repr`` names the type, and special
    (``__dunder__``) attributes are never asked for, so NumPy and Python
    cannot be led to read memory or run code through them.
    """

    __slots__ = ("_endpoint", "_hid", "_kind", "_type", "_name",
                 "_methods", "__weakref__")

    def __init__(self, endpoint, hid, kind, type_name, name):
        object.__setattr__(self, "_methods", {})
        object.__setattr__(self, "_endpoint", endpoint)
        object.__setattr__(self, "_hid", hid)
        object.__setattr__(self, "_kind", kind)
        object.__setattr__(self, "_type", type_name)
        object.__setattr__(self, "_name", name)

    def _ask(self, op, **fields):
        return self._endpoint.request(dict(op=op, t=self._hid, **fields))

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        if name in self._methods:  # a bound method, asked for before
            return self._methods[name]
        value = self._ask("getattr", n=name)
        if isinstance(value, Remote) and value._type == "method":
            self._methods[name] = value
        return value

    def __setattr__(self, name, value):
        self._methods.pop(name, None)
        self._ask("setattr", n=name, v=value)

    def __call__(self, *args, **kwargs):
        return self._ask("call", a=list(args), k=kwargs)

    def __getitem__(self, key):
        return self._ask("getitem", key=key)

    def __setitem__(self, key, value):
        self._ask("setitem", key=key, v=value)

    def __len__(self):
        return self._ask("len")

    def __bool__(self):
        return self._ask("bool")

    def __contains__(self, item):
        return self._ask("contains", v=item)

    def __iter__(self):
        return iter(self._ask("iter"))

    @property
    def __name__(self):
        if self._name is None:
            raise AttributeError("__name__")
        return self._name

    def __repr__(self):
        what = self._name or self._type
        return f"<{self._kind} {what}>"

    __hash__ = object.__hash__

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other


class Endpoint:
    """One side of the channel: its tables of handles and shared values.

    ``transport(text)`` sends one message and returns the next one
    received. ``exportable(obj)`` says whether a local object may be
    handed to the other side as a handle (the judge lets only test and
    dlcore objects go); ``max_bytes`` caps a message received.
    """

    def __init__(self, side, transport, exportable=None,
                 max_bytes=64 * 2**20):
        self.side = side
        self.transport = transport
        self.exportable = exportable or (lambda obj: True)
        self.max_bytes = max_bytes
        self._count = 0
        self.exported = {}     # hid -> local object given out
        self._export_ids = {}  # id(obj) -> hid
        self.remotes = weakref.WeakValueDictionary()  # hid -> Remote
        self.shared = {}       # sid -> local shared value
        self._shared_ids = {}  # id(obj) -> sid
        self._snap = {}        # sid -> digest at the last sync
        self.handlers = {}     # op -> function(endpoint, msg) -> value
        self.closed = False
        # the values each request being handled here received, kept alive
        # until its reply has synced what the request changed in them
        self._held = [[]]

    # ------------------------------------------------------------ ids

    def _new_id(self, prefix):
        self._count += 1
        return f"{self.side}{prefix}{self._count}"

    def _sid_of(self, obj):
        sid = self._shared_ids.get(id(obj))
        if sid is None:
            return None
        return sid if self.shared.get(sid) is obj else None

    def _register_shared(self, obj, sid=None):
        sid = sid or self._new_id("s")
        self.shared[sid] = obj
        self._shared_ids[id(obj)] = sid
        return sid

    # -------------------------------------------------------- encoding

    def encode(self, value, _seen=None):
        """``value`` as a JSON-able tree (see the module's docstring)."""
        seen = set() if _seen is None else _seen
        t = type(value)
        if value is None or t is bool or t is str:
            return value
        if t is int:
            return value
        if t is float:
            return {"f": repr(value)}
        if isinstance(value, Remote) and value._endpoint is self:
            return {"R": value._hid}
        if isinstance(value, np.ndarray):
            return self._encode_shared(value, seen)
        if isinstance(value, np.generic):
            dt = _dtype(value.dtype)
            return {"S": dt.str, "b": _b64(np.asarray(value).tobytes())}
        if isinstance(value, (list, dict, np.random.Generator)):
            return self._encode_shared(value, seen)
        if isinstance(value, bool):
            return bool(value)
        if isinstance(value, int):
            return int(value)
        if isinstance(value, float):
            return {"f": repr(float(value))}
        if isinstance(value, str):
            return str.__str__(value)
        if isinstance(value, tuple):
            return {"T": [self.encode(v, seen) for v in value]}
        if t is slice:
            return {"SL": [self.encode(v, seen) for v in
                           (value.start, value.stop, value.step)]}
        if value is Ellipsis:
            return {"E": 1}
        return self._encode_handle(value)

    def _encode_shared(self, value, seen):
        sid = self._sid_of(value)
        if sid is None:
            sid = self._register_shared(value)
        if sid in seen:
            return {"Z": sid}
        seen.add(sid)
        out = self._encode_body(value, seen)
        out["id"] = sid
        self._snap[sid] = self._digest(value)
        return out

    def _encode_body(self, value, seen):
        if isinstance(value, np.ndarray):
            return _array_body(value)
        if isinstance(value, list):
            return {"L": [self.encode(v, seen) for v in value]}
        if isinstance(value, dict):
            return {"D": [[self.encode(k, seen), self.encode(v, seen)]
                          for k, v in value.items()]}
        state = value.bit_generator.state
        if state.get("bit_generator") not in _BIT_GENERATORS:
            raise ChannelError("this random generator cannot be sent")
        return {"G": json.dumps(state)}

    def _encode_handle(self, value):
        key = id(value)
        hid = self._export_ids.get(key)
        if hid is None or self.exported.get(hid) is not value:
            if not self.exportable(value):
                raise ChannelError(
                    f"a {type(value).__name__} cannot be handed out "
                    f"while a notebook is graded")
            hid = self._new_id("h")
            self.exported[hid] = value
            self._export_ids[key] = hid
        if isinstance(value, type):
            kind = "class"
        elif callable(value):
            kind = "function"
        else:
            kind = "object"
        name = getattr(value, "__name__", None) if kind != "object" \
            else None
        return {"H": hid, "kind": kind, "type": type(value).__name__,
                "name": name if isinstance(name, str) else None}

    def _digest(self, value):
        if isinstance(value, np.ndarray):
            return (value.dtype.str, value.shape,
                    np.ascontiguousarray(value).tobytes())
        if isinstance(value, list):
            return tuple(self._token(v) for v in value)
        if isinstance(value, dict):
            return tuple((self._token(k), self._token(v))
                         for k, v in value.items())
        return json.dumps(value.bit_generator.state, sort_keys=True)

    def _token(self, value):
        if isinstance(value, (np.ndarray, list, dict, np.random.Generator)):
            sid = self._sid_of(value)
            return ("s", sid) if sid else ("new", id(value))
        if isinstance(value, Remote):
            return ("r", value._hid)
        try:
            return ("v", json.dumps(self.encode(value)))
        except (ChannelError, TypeError, ValueError):
            return ("o", id(value))

    # -------------------------------------------------------- decoding

    def decode(self, tree):
        """The local value of a tree made by the other side's encode."""
        if tree is None or isinstance(tree, (bool, int, str)):
            return tree
        if isinstance(tree, list):
            raise ChannelError("a bare list on the wire")
        if not isinstance(tree, dict):
            raise ChannelError(f"unexpected {type(tree).__name__}")
        if "f" in tree:
            return float(tree["f"])
        if "T" in tree:
            return tuple(self.decode(v) for v in tree["T"])
        if "SL" in tree:
            return slice(*(self.decode(v) for v in tree["SL"]))
        if "E" in tree:
            return Ellipsis
        if "S" in tree:
            dt = _dtype(tree["S"])
            raw = base64.b64decode(tree["b"])
            if len(raw) != dt.itemsize:
                raise ChannelError("a scalar of the wrong size")
            return np.frombuffer(raw, dtype=dt)[0]
        if "R" in tree:  # one of ours, coming back
            hid = tree["R"]
            if hid not in self.exported:
                raise ChannelError(f"unknown handle {hid!r}")
            return self.exported[hid]
        if "H" in tree:
            hid = str(tree["H"])
            proxy = self.remotes.get(hid)
            if proxy is None:
                proxy = Remote(self, hid, str(tree.get("kind")),
                               str(tree.get("type")), tree.get("name"))
                self.remotes[hid] = proxy
            return proxy
        if "Z" in tree:
            obj = self.shared.get(tree["Z"])
            if obj is None:
                raise ChannelError("a reference to an unknown value")
            return obj
        if "id" in tree:
            return self._decode_shared(tree)
        raise ChannelError("an unknown kind of value")

    def _decode_shared(self, tree):
        sid = str(tree["id"])
        local = self.shared.get(sid)
        if "A" in tree:
            new = _array_from(tree)
            if isinstance(local, np.ndarray):
                if (local.shape != new.shape and local.size == new.size
                        and local.dtype == new.dtype):
                    try:  # reshaped in place there (x.shape = ...)
                        local.shape = new.shape
                    except AttributeError:
                        pass
                if local.shape == new.shape and local.dtype == new.dtype:
                    if local.flags.writeable:
                        local[...] = new
                    value = local
                else:
                    value = new
            else:
                value = new
        elif "L" in tree:
            value = local if isinstance(local, list) else []
            self._bind_shared(value, sid)
            items = [self.decode(v) for v in tree["L"]]
            value[:] = items
        elif "D" in tree:
            value = local if isinstance(local, dict) else {}
            self._bind_shared(value, sid)
            pairs = [(self.decode(k), self.decode(v)) for k, v in tree["D"]]
            value.clear()
            for k, v in pairs:
                value[k] = v
        elif "G" in tree:
            state = json.loads(tree["G"])
            name = state.get("bit_generator")
            if name not in _BIT_GENERATORS:
                raise ChannelError("an unknown random generator")
            if isinstance(local, np.random.Generator):
                value = local
            else:
                value = np.random.Generator(getattr(np.random, name)())
            value.bit_generator.state = state
        else:
            raise ChannelError("an unknown kind of shared value")
        self._bind_shared(value, sid)
        self._snap[sid] = self._digest(value)
        return value

    def _bind_shared(self, value, sid):
        if self.shared.get(sid) is not value:
            self._register_shared(value, sid)

    # -------------------------------------------------------- messages

    def _changed(self):
        """The shared values changed since they were last synced; then
        forget those that nothing but this table holds any more (their
        last change goes with this message)."""
        out, seen = [], set()
        for sid, obj in list(self.shared.items()):
            if sid in seen:
                continue
            try:
                digest = self._digest(obj)
            except Exception:
                continue
            if digest != self._snap.get(sid):
                out.append(self._encode_shared(obj, seen))
            del obj
        for sid in list(self.shared):
            if sys.getrefcount(self.shared[sid]) <= 2:  # table + argument
                obj = self.shared.pop(sid)
                self._shared_ids.pop(id(obj), None)
                self._snap.pop(sid, None)
                del obj
        return out

    def exchange(self, message):
        """Send ``message`` (with the shared values changed since the last
        sync), return the next message received (its syncs applied)."""
        message = dict(message)
        held = message.pop("_held", None)
        message["sync"] = self._changed()
        del held
        text = json.dumps(message)
        incoming = self.transport(text)
        if not isinstance(incoming, str) or len(incoming) > self.max_bytes:
            raise ChannelError("an oversized or malformed message")
        try:
            msg = json.loads(incoming)
        except ValueError:
            raise ChannelError("a message that is not JSON") from None
        if not isinstance(msg, dict) or not isinstance(msg.get("op"), str):
            raise ChannelError("a message without an op")
        for tree in msg.get("sync") or ():
            self.decode(tree)
        return msg

    def request(self, message):
        """Send a request, serve what arrives meanwhile, return the reply's
        value (or raise the other side's exception, by type and message)."""
        if self.closed:
            raise ChannelError("the channel is closed")
        out = self._encode_request(message)
        msg = self.exchange(out)
        while msg["op"] not in ("ret", "err"):
            if msg["op"] == "done":
                self.closed = True
                raise SessionEnded()
            msg = self.exchange(self.handle(msg))
        return self._result(msg)

    def _encode_request(self, message):
        out = {}
        for key, value in message.items():
            if key in ("op", "t", "n"):
                out[key] = value
            elif key == "a":
                out[key] = [self.encode(v) for v in value]
            elif key == "k":
                out[key] = {str(k): self.encode(v) for k, v in value.items()}
            else:
                out[key] = self.encode(value)
        return out

    def _result(self, msg):
        for category, text in msg.get("w") or ():
            cls = getattr(builtins, str(category), None)
            if not (isinstance(cls, type) and issubclass(cls, Warning)):
                cls = UserWarning
            warnings.warn_explicit(_text(text), cls, "<your code>", 0)
        if msg["op"] == "err":
            cls = exception_class(str(msg.get("type") or "Exception"))
            raise cls(_text(msg.get("msg", "")))
        return self.decode(msg.get("v"))

    # --------------------------------------------------------- serving

    def handle(self, msg):
        """Carry out one request from the other side; the reply message."""
        self._held.append([])
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            try:
                value = self._carry_out(msg)
                reply = {"op": "ret", "v": self.encode(value)}
            except SessionEnded:
                raise
            except BaseException as err:  # the reply says what it was
                reply = {"op": "err", "type": type(err).__name__,
                         "msg": _text(err)}
        reply["w"] = [[w.category.__name__, _text(w.message)]
                      for w in seen[:20]]
        reply["_held"] = self._held.pop()
        return reply

    def _target(self, msg):
        hid = msg.get("t")
        if hid not in self.exported:
            raise ChannelError(f"unknown handle {hid!r}")
        return self.exported[hid]

    def _carry_out(self, msg):
        op = msg["op"]
        if op in self.handlers:
            return self.handlers[op](self, msg)
        target = self._target(msg)
        if op == "call":
            args = [self.decode(v) for v in msg.get("a") or ()]
            kwargs = {str(k): self.decode(v)
                      for k, v in (msg.get("k") or {}).items()}
            self._held[-1].append((args, kwargs))
            return target(*args, **kwargs)
        if op == "getattr":
            return getattr(target, self.attribute(msg))
        if op == "setattr":
            value = self.decode(msg.get("v"))
            self._held[-1].append(value)
            setattr(target, self.attribute(msg), value)
            return None
        if op == "getitem":
            return target[self.decode(msg.get("key"))]
        if op == "setitem":
            value = self.decode(msg.get("v"))
            self._held[-1].append(value)
            target[self.decode(msg.get("key"))] = value
            return None
        if op == "len":
            return len(target)
        if op == "bool":
            return bool(target)
        if op == "contains":
            return self.decode(msg.get("v")) in target
        if op == "iter":
            return list(target)
        raise ChannelError(f"unknown request {op!r}")

    def attribute(self, msg):
        """The attribute a request names (the judge refuses private ones)."""
        name = msg.get("n")
        if not isinstance(name, str):
            raise ChannelError("an attribute name must be a string")
        return name


# ------------------------------------------------------------ the wire


class Wire:
    """Jupyter messages (``input_request``/``input_reply``) on one
    ZeroMQ socket of a kernel's stdin channel, for the channel's many
    small exchanges (a test may make thousands).

    The messages are the Jupyter protocol's, signed with the session's
    key, but built and read without what jupyter_client's
    ``Session.send``/``recv`` and ipykernel's ``raw_input`` add to every
    one: a date parsed in every header, a flush of stdout and stderr
    (each waits for ipykernel's output thread) and a purge of the socket
    before every request (once per session is enough: within one,
    requests and replies alternate). Together those were most of a
    round trip's cost. ``session`` is the connection's ``jupyter_client.Session``;
    ``parent``, the header a request answers (the kernel's end); ``ident``,
    the ZeroMQ routing frames to send with each message.
    """

    DELIM = b"<IDS|MSG>"

    def __init__(self, session, socket, parent=None, ident=()):
        import uuid

        self.session = session
        self.socket = socket
        self.ident = list(ident)
        self.parent = session.pack(parent) if parent else b"{}"
        self.prefix = uuid.uuid4().hex
        self.count = 0

    def send(self, msg_type, content):
        """Send one message; ``content`` is a JSON-able dict."""
        import datetime

        self.count += 1
        header = json.dumps({
            "msg_id": f"{self.prefix}_{self.count}", "msg_type": msg_type,
            "username": self.session.username,
            "session": self.session.session,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(),
            "version": "5.3"}).encode()
        parts = [header, self.parent, b"{}", json.dumps(content).encode()]
        self.socket.send_multipart(
            self.ident + [self.DELIM, self.session.sign(parts)] + parts)

    def recv(self, block=True):
        """The next message as a dict (``msg_type``, ``header``,
        ``parent_header``, ``content``); None when ``block`` is False and
        none is waiting. Raises ChannelError on a message that is
        unsigned, wrongly signed or not JSON objects."""
        import hmac

        import zmq

        try:
            frames = self.socket.recv_multipart(0 if block else zmq.NOBLOCK)
        except zmq.Again:
            return None
        if self.DELIM not in frames:
            raise ChannelError("a message without its delimiter")
        frames = frames[frames.index(self.DELIM) + 1:]
        if len(frames) < 5:
            raise ChannelError("a message with missing parts")
        if self.session.auth is not None and not hmac.compare_digest(
                frames[0], self.session.sign(frames[1:5])):
            raise ChannelError("a message with a wrong signature")
        try:
            header, parent, _, content = (json.loads(f) for f in frames[1:5])
        except ValueError:
            raise ChannelError("a message that is not JSON") from None
        if not all(isinstance(d, dict) for d in (header, parent, content)):
            raise ChannelError("a message whose parts are not objects")
        return {"msg_type": header.get("msg_type"), "header": header,
                "parent_header": parent, "content": content}


# ------------------------------------------------------- the kernel's end


def _kernel_transport():
    """Send one message to the judge as an input request and return the
    judge's reply (ipykernel's ``raw_input``, less its per-call costs:
    see :class:`Wire`; where this ipykernel's internals differ,
    ``raw_input`` itself). The learner's printed output still reaches the
    judge: ipykernel flushes it on its own, and when the session's
    execute request ends."""
    from IPython import get_ipython

    kernel = get_ipython().kernel
    try:
        import zmq

        ident = kernel._get_shell_context_var(kernel._shell_parent_ident)
        wire = Wire(kernel.session, kernel.stdin_socket,
                    kernel.get_parent("shell")["header"], ident)
    except Exception:
        return kernel.raw_input
    while wire.socket.poll(0):  # an ended session's stale reply
        wire.socket.recv_multipart()

    def send(text):
        wire.send("input_request", {"prompt": text, "password": False})
        while True:
            try:
                # a short timeout, so that an interrupt gets through
                ready, _, _ = zmq.select([wire.socket], [], [], 0.01)
                if not ready:
                    continue
                msg = wire.recv(block=False)
            except KeyboardInterrupt:
                raise KeyboardInterrupt("Interrupted by user") from None
            except ChannelError:
                continue  # not the judge's: ignored, as raw_input does
            if msg is not None and msg["msg_type"] == "input_reply":
                value = msg["content"].get("value")
                return value if isinstance(value, str) else ""
    return send


def _namespace():
    from IPython import get_ipython

    return get_ipython().user_ns


class _Bindings:
    """Names the judge binds in the learner's namespace for a while
    (``substitute``), and the guard's forbidden items (``graded``)."""

    def __init__(self):
        self.saved = []      # stack of (name, old value or _MISSING)
        self.forbid = []     # stack of open forbid() contexts

    def bind(self, endpoint, msg):
        ns = _namespace()
        name = str(msg["n"])
        self.saved.append((name, ns.get(name, _MISSING)))
        ns[name] = endpoint.decode(msg.get("v"))

    def unbind(self, endpoint, msg):
        ns = _namespace()
        name, old = self.saved.pop()
        if old is _MISSING:
            ns.pop(name, None)
        else:
            ns[name] = old

    def enter_forbid(self, endpoint, msg):
        from dlcore.guard import forbid

        ctx = forbid(*[str(n) for n in endpoint.decode(msg.get("items")) or ()])
        ctx.__enter__()
        self.forbid.append(ctx)

    def leave_forbid(self, endpoint, msg):
        if self.forbid:
            self.forbid.pop().__exit__(None, None, None)

    def restore(self):
        while self.saved:
            self.unbind(None, None)
        while self.forbid:
            self.leave_forbid(None, None)


_MISSING = object()


def _lookup(endpoint, msg):
    name = str(msg["n"])
    ns = _namespace()
    if name not in ns:
        raise NameError(f"name {name!r} is not defined")
    return ns[name]


def _dlcore_name(endpoint, msg):
    """dlcore's ``module.name`` in this kernel (a handle goes back): a
    test builds a network next to the learner's layers with it."""
    import importlib

    module, name = str(msg["m"]), str(msg["n"])
    if not (module.isidentifier() and name.isidentifier()
            and not name.startswith("_")):
        raise ChannelError(f"not a public dlcore name: {module}.{name}")
    return getattr(importlib.import_module(f"dlcore.{module}"), name)


_ACTIVE = None  # the endpoint of the session being served, if any


def reference_call(name, args, kwargs):
    """Call dlcore's ``name``, withheld from this kernel while its chapter
    is graded (``coursekit.withheld``): the judge runs it, or says why not."""
    from dlcore.guard import DelegationError

    if _ACTIVE is None or _ACTIVE.closed:
        raise DelegationError(
            f"dlcore's {name} is not in the grading sandbox; it can be "
            f"used only where the exercise allows it, while a test runs")
    return _ACTIVE.request({"op": "reference", "n": name, "a": list(args),
                            "k": dict(kwargs)})


def serve():
    """The kernel's end of one test cell's session (called by the judge's
    ``execute_request``): answer requests until the judge says done."""
    send = _kernel_transport()
    bindings = _Bindings()
    endpoint = Endpoint("k", send)
    endpoint.handlers.update({
        "lookup": _lookup,
        "dlcore": _dlcore_name,
        "bind": bindings.bind,
        "unbind": bindings.unbind,
        "forbid": bindings.enter_forbid,
        "permit": bindings.leave_forbid,
    })
    global _ACTIVE
    _ACTIVE = endpoint
    try:
        msg = endpoint.exchange({"op": "ready"})
        while msg["op"] != "done":
            msg = endpoint.exchange(endpoint.handle(msg))
    except SessionEnded:
        pass
    finally:
        _ACTIVE = None
        endpoint.closed = True
        bindings.restore()
