"""The judge: a notebook's test cells, run outside the learner's kernel.

While a notebook is graded, :class:`coursekit.preprocessors.GradingExecute`
sends every learner cell to the learner's (sandboxed) kernel and every
test cell to this process, ``python -m coursekit.judge CONNECTION_FILE``.
The judge runs the test cell's code here, where the inputs, the expected
values, the comparisons and the verdict live, and reaches the learner's
items through the data-only channel of :mod:`dlcore.channel`: a name the
test uses and does not define (``relu``, ``TwoLayerNet``) is looked up in
the learner's namespace and comes back as a handle; calling it sends the
arguments as data and brings the result back as data. Nothing the
learner's code prints, raises, patches or sends can change how a test is
judged: it can only send data, and the test judges that data.

The judge talks to the kernel through the kernel's own Jupyter channels:
one ``execute_request`` per test cell starts :func:`dlcore.channel.serve`
(as a user expression: silent, kept out of the history, past any input
transformer), and the two ends exchange messages as
``input_request`` / ``input_reply`` on the stdin channel.

The grader talks to the judge in JSON lines on the judge's stdin and
stdout: ``{"source": ..., "name": ..., "timeout": ...}`` in, ``{"outputs":
[...]}`` (nbformat outputs) out.
"""

import builtins
import contextlib
import inspect
import io
import json
import os
import sys
import time
import types
import warnings

import numpy as np

from dlcore import channel, grading

TEST_MODULE = "__test__"
OUTPUT_LIMIT = 20_000   # characters of the learner's output kept per cell
GRACE = 5.0             # seconds an interrupted call has to answer
SERVE = ("__import__('dlcore.channel', fromlist=['serve']).serve()")


class Broken(Exception):
    """The kernel no longer answers the judge (dead, or stuck)."""


def exportable(obj):
    """May the judge hand ``obj`` to the learner's kernel as a handle?

    Only the test's own functions, classes and objects, dlcore's, and
    NumPy ufuncs: never a module, a built-in or anything else from which
    public attributes could lead to the judge's files or interpreter.
    """
    if isinstance(obj, types.ModuleType):
        return False
    if isinstance(obj, np.ufunc):
        return True
    if inspect.ismethod(obj):
        obj = obj.__self__
    if isinstance(obj, type):
        module = obj.__module__
    elif inspect.isfunction(obj):
        module = obj.__module__
    else:
        module = type(obj).__module__
    module = module if isinstance(module, str) else ""
    return module == TEST_MODULE or module == "dlcore" or \
        module.startswith("dlcore.")


class JudgeEndpoint(channel.Endpoint):
    """The judge's end: hands out only :func:`exportable` objects and
    answers no request for a private (``_name``) attribute."""

    def __init__(self, transport, judge=None):
        super().__init__("j", transport, exportable=exportable)
        if judge is not None:
            self.handlers["reference"] = judge.reference

    def attribute(self, msg):
        name = super().attribute(msg)
        if name.startswith("_"):
            raise AttributeError(
                f"{name}: private attributes of the grader's objects are "
                f"not available")
        return name


class KernelLink:
    """The judge's connection to the learner's kernel: its shell, stdin,
    control, iopub and heartbeat channels, as plain ZeroMQ sockets (the
    stdin socket carries the channel's messages)."""

    def __init__(self, connection_file):
        import zmq
        from jupyter_client.session import Session

        with open(connection_file) as f:
            info = json.load(f)
        self.zmq = zmq
        self.session = Session(key=info["key"].encode(),
                               signature_scheme=info.get(
                                   "signature_scheme", "hmac-sha256"))
        self.context = zmq.Context()
        ident = self.session.bsession

        def connect(kind, port, identity=True):
            sock = self.context.socket(kind)
            sock.setsockopt(zmq.LINGER, 0)
            if identity:
                sock.setsockopt(zmq.IDENTITY, ident)
            if info["transport"] == "ipc":
                sock.connect(f"ipc://{info['ip']}-{info[port]}")
            else:
                sock.connect(f"tcp://{info['ip']}:{info[port]}")
            return sock

        self.shell = connect(zmq.DEALER, "shell_port")
        self.stdin = connect(zmq.DEALER, "stdin_port")
        self.control = connect(zmq.DEALER, "control_port")
        self.iopub = connect(zmq.SUB, "iopub_port", identity=False)
        self.iopub.setsockopt(zmq.SUBSCRIBE, b"")
        self._hb_connect = lambda: connect(zmq.REQ, "hb_port", False)
        self.hb = self._hb_connect()
        # the channel's messages: signed Jupyter messages, lean (Wire)
        self.wire = channel.Wire(self.session, self.stdin)
        self.poller = zmq.Poller()
        for sock in (self.stdin, self.shell, self.iopub):
            self.poller.register(sock, zmq.POLLIN)
        self.broken = None
        self.msg_id = None
        self.output = []
        self._output_chars = 0
        self.deadlines = []

    def _recv(self, sock):
        _, msg = self.session.recv(sock, mode=self.zmq.NOBLOCK)
        return msg

    def _parent(self, msg):
        return (msg or {}).get("parent_header", {}).get("msg_id")

    # -- one session (one test cell)

    def open(self):
        if self.broken:
            raise Broken(self.broken)
        # the session runs as a user expression: evaluated as it is, past
        # the input and AST transformers a learner's cell may register
        msg = self.session.msg("execute_request", {
            "code": "", "silent": True, "store_history": False,
            "user_expressions": {"coursekit": SERVE}, "allow_stdin": True,
            "stop_on_error": False})
        self.msg_id = msg["header"]["msg_id"]
        self.session.send(self.shell, msg)
        return self._wait()

    def send(self, text):
        self.wire.send("input_reply", {"value": text})
        return self._wait()

    def close(self):
        """End the session: 'done', then the execute_reply."""
        if self.msg_id is None:
            return
        msg_id, self.msg_id = self.msg_id, None
        if self.broken:
            return
        self.wire.send("input_reply", {
            "value": json.dumps({"op": "done", "sync": []})})
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if not dict(self.poller.poll(200)):
                continue
            self._drain_iopub(msg_id)
            while True:
                reply = self._recv(self.shell)
                if reply is None:
                    break
                if self._parent(reply) == msg_id:
                    self._drain_iopub(msg_id)
                    return
            while self._stray():
                pass  # a stray input request of an ended session
        self._interrupt()
        self.broken = ("your notebook's kernel did not finish a grading "
                       "step (a call that never returns?)")

    def _stray(self):
        """Read one waiting stdin message, if any (a bad one included)."""
        try:
            return self.wire.recv(block=False) is not None
        except channel.ChannelError:
            return True

    def disconnect(self):
        """Close the sockets (the kernel goes on)."""
        self.context.destroy(linger=0)

    # -- waiting

    def deadline(self):
        return min(self.deadlines) if self.deadlines else None

    def _interrupt(self):
        self.session.send(self.control, "interrupt_request", {})

    def _alive(self):
        """A heartbeat within a second."""
        self.hb.send(b"ping")
        if self.hb.poll(1000):
            self.hb.recv()
            return True
        self.hb.close()
        self.hb = self._hb_connect()
        return False

    def _wait(self):
        interrupted_at = None
        last_beat = time.monotonic()
        while True:
            ready = dict(self.poller.poll(100))
            if self.iopub in ready:
                self._drain_iopub(self.msg_id)
            if self.stdin in ready:
                msg = self.wire.recv(block=False)
                if msg is not None and msg["msg_type"] == "input_request" \
                        and self._parent(msg) == self.msg_id:
                    if interrupted_at is not None:
                        raise grading._TimeLimit()
                    return msg["content"].get("prompt", "")
            if self.shell in ready:
                reply = self._recv(self.shell)
                if reply is not None and self._parent(reply) == self.msg_id:
                    self.msg_id = None
                    content = reply.get("content", {})
                    why = channel._text(f"{content.get('ename', '')}: "
                                        f"{content.get('evalue', '')}", 300)
                    raise Broken("your notebook's kernel left the grading "
                                 f"session ({why}; did your code exit or "
                                 "interrupt it?)")
            now = time.monotonic()
            if ready:
                continue
            if now - last_beat > 2:
                last_beat = now
                if not self._alive():
                    self.broken = ("your notebook's kernel died (did your "
                                   "code exit, crash or run out of memory?)")
                    raise Broken(self.broken)
            limit = self.deadline()
            if interrupted_at is None and limit is not None and now > limit:
                self._interrupt()
                interrupted_at = now
            elif interrupted_at is not None and now > interrupted_at + GRACE:
                self.broken = ("your notebook's kernel did not stop when "
                               "the grader interrupted a call that ran too "
                               "long")
                raise Broken(self.broken)

    def _drain_iopub(self, msg_id):
        while True:
            msg = self._recv(self.iopub)
            if msg is None:
                return
            if self._parent(msg) != msg_id:
                continue
            if msg["msg_type"] == "stream":
                self._keep(str(msg["content"].get("text", "")))
            elif msg["msg_type"] in ("display_data", "execute_result"):
                data = msg["content"].get("data", {})
                self._keep(str(data.get("text/plain", "")) + "\n")

    def _keep(self, text):
        room = OUTPUT_LIMIT - self._output_chars
        if room <= 0:
            return
        if len(text) > room:
            text = text[:room] + "\n[... your output was cut here]\n"
        self._output_chars += len(text)
        self.output.append(text)

    def take_output(self):
        text = "".join(self.output)
        self.output, self._output_chars = [], 0
        return text


class Namespace(dict):
    """A test cell's globals: a name the test does not define comes from
    the learner's namespace, through the channel."""

    def __init__(self, judge):
        super().__init__(__name__=TEST_MODULE, __builtins__=builtins)
        self.judge = judge

    def __missing__(self, name):
        if hasattr(builtins, name):
            raise KeyError(name)
        try:
            value = self.judge.request({"op": "lookup", "n": name})
        except NameError:
            raise KeyError(name) from None
        self[name] = value
        return value


class Judge:
    """Runs test cells against one kernel (see the module docstring)."""

    def __init__(self, connection_file, forward=()):
        self.link = KernelLink(connection_file)
        self.endpoint = None
        self.namespace = None
        self.forward = set(forward)  # items the kernel may ask us to run
        self.testing = []            # items under graded() now

    def reference(self, endpoint, msg):
        """Run dlcore's reference of an item withheld from the kernel,
        unless it is the item being tested (``coursekit.withheld``)."""
        from dlcore.guard import DelegationError, _trip

        name = str(msg.get("n"))
        if name not in self.forward:
            raise DelegationError(f"dlcore's {name} is not available "
                                  f"while this chapter is graded")
        if any(name in items for items in self.testing):
            _trip(name)
        target = _reference_of(name)
        args = [endpoint.decode(v) for v in msg.get("a") or ()]
        kwargs = {str(k): endpoint.decode(v)
                  for k, v in (msg.get("k") or {}).items()}
        endpoint._held[-1].append((args, kwargs))
        return target(*args, **kwargs)

    # -- the channel, opened on first use in a cell

    def request(self, message):
        if self.endpoint is None:
            if self.link.broken:
                raise Broken(self.link.broken)
            self.endpoint = JudgeEndpoint(self.link.send, self)
            try:
                text = self.link.open()
            except Broken:
                if self.link.broken:
                    raise
                # the kernel was still busy with the learner's last cell
                # (a flood of output): try once more
                text = self.link.open()
            ready = json.loads(text)
            if ready.get("op") != "ready":
                raise Broken("your notebook's kernel did not start the "
                             "grading session")
        try:
            return self.endpoint.request(message)
        except grading._TimeLimit:
            self._end_session()
            raise

    def _end_session(self):
        if self.endpoint is not None:
            self.endpoint.closed = True
            self.endpoint = None
            self.link.close()

    # -- what dlcore.grading asks of the judge

    @contextlib.contextmanager
    def deadline(self, seconds):
        self.link.deadlines.append(time.monotonic() + seconds)
        try:
            yield
        finally:
            self.link.deadlines.pop()

    def kernel_dlcore(self, module, name):
        """A handle of dlcore's ``module.name`` as the kernel has it."""
        return self.request({"op": "dlcore", "m": module, "n": name})

    @contextlib.contextmanager
    def graded(self, items):
        self.request({"op": "forbid", "items": list(items)})
        self.testing.append(tuple(items))
        try:
            yield
        finally:
            self.testing.pop()
            if self.endpoint is not None:
                self.request({"op": "permit"})

    @contextlib.contextmanager
    def substitute(self, namespace, objects):
        missing = object()
        saved = {k: dict.get(namespace, k, missing) for k in objects}
        bound = []
        try:
            for name, obj in objects.items():
                self.request({"op": "bind", "n": name, "v": obj})
                bound.append(name)
                dict.__setitem__(namespace, name, obj)
            yield
        finally:
            for name in reversed(bound):
                if self.endpoint is not None:
                    self.request({"op": "unbind", "n": name})
            for k, v in saved.items():
                if v is missing:
                    dict.pop(namespace, k, None)
                else:
                    dict.__setitem__(namespace, k, v)

    # -- a test cell

    def run_cell(self, source, name="test", timeout=60):
        """Run one test cell; its nbformat outputs."""
        self.namespace = Namespace(self)
        out = io.StringIO()
        error = None
        self.link.deadlines = [time.monotonic() + timeout]
        grading._JUDGE = self
        try:
            code = compile(source, f"<{name}>", "exec")
            with contextlib.redirect_stdout(out), \
                    contextlib.redirect_stderr(out), \
                    warnings.catch_warnings():
                warnings.simplefilter("always")
                warnings.showwarning = _show_warning
                exec(code, self.namespace)
        except grading._TimeLimit:
            error = ("TimeoutError", "a call to your code did not finish "
                     f"within the cell's {timeout} s")
        except Broken as err:
            error = ("GradingError", str(err))
        except channel.ChannelError as err:
            error = ("GradingError", f"the grader could not read what your "
                                     f"code returned: {err}")
        except BaseException as err:  # the test failed: its verdict
            error = (type(err).__name__, channel._text(err, 4000))
        finally:
            grading._JUDGE = None
            try:
                self._end_session()
            except Broken:
                pass
            self.namespace = None
        outputs = []
        text = self.link.take_output() + out.getvalue()
        if text:
            outputs.append({"output_type": "stream", "name": "stdout",
                            "text": text})
        if error:
            ename, evalue = error
            outputs.append({"output_type": "error", "ename": ename,
                            "evalue": evalue,
                            "traceback": [f"{ename}: {evalue}"]})
        return outputs


def _reference_of(name):
    """dlcore's object marked as the reference of item ``name``."""
    import importlib
    import pkgutil

    import dlcore

    for info in pkgutil.iter_modules(dlcore.__path__):
        module = importlib.import_module(f"dlcore.{info.name}")
        obj = vars(module).get(name)
        if getattr(obj, "__dlcore_item__", None) == name:
            return obj
    raise LookupError(f"dlcore has no reference for {name!r}")


def _show_warning(message, category, filename, lineno, file=None,
                  line=None):
    print(f"{category.__name__}: {message} (a warning, shown for you; it "
          f"costs no points)")


def main(argv=None):
    """``python -m coursekit.judge CONNECTION_FILE [ITEM,ITEM,...]``; with
    no arguments the first line on stdin names them: ``{"connect":
    CONNECTION_FILE, "forward": [ITEM, ...]}`` (a judge started before
    its kernel, :meth:`coursekit.preprocessors.JudgeProcess.forked`)."""
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) > 2:
        print("usage: python -m coursekit.judge CONNECTION_FILE "
              "[ITEM,ITEM,...]", file=sys.stderr)
        return 2
    # replies go to the real stdout; anything else printed goes to stderr
    replies = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    judge = None
    if argv:
        forward = argv[1].split(",") if len(argv) > 1 and argv[1] else ()
        judge = Judge(argv[0], forward)
    try:
        for line in sys.stdin:
            job = json.loads(line)
            if judge is None:
                judge = Judge(job["connect"], job.get("forward") or ())
                continue
            outputs = judge.run_cell(job["source"], job.get("name", "test"),
                                     job.get("timeout", 60))
            replies.write(json.dumps({"outputs": outputs}) + "\n")
            replies.flush()
    finally:
        if judge is not None:
            judge.link.disconnect()
    return 0


if __name__ == "__main__":
    sys.exit(main())
