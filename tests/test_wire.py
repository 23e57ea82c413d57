"""dlcore.channel.Wire: the grading channel's messages on a kernel's
stdin socket (the judge's DEALER, the kernel's ROUTER), signed Jupyter
messages that jupyter_client reads and writes too."""

import json

import pytest

zmq = pytest.importorskip("zmq")
from jupyter_client.session import Session  # noqa: E402

from dlcore.channel import ChannelError, Wire  # noqa: E402


@pytest.fixture
def pair():
    """(kernel's ROUTER, judge's DEALER, the shared session's key)."""
    ctx = zmq.Context()
    router = ctx.socket(zmq.ROUTER)
    router.setsockopt(zmq.LINGER, 0)
    router.bind("inproc://stdin")
    dealer = ctx.socket(zmq.DEALER)
    dealer.setsockopt(zmq.LINGER, 0)
    dealer.setsockopt(zmq.IDENTITY, b"judge")
    dealer.connect("inproc://stdin")
    yield router, dealer, b"secret"
    ctx.destroy(linger=0)


def _kernel_end(router, key, parent_id="exec-1"):
    return Wire(Session(key=key), router, {"msg_id": parent_id}, [b"judge"])


def test_a_request_and_its_reply(pair):
    router, dealer, key = pair
    judge = Wire(Session(key=key), dealer)
    judge.send("input_reply", {"value": "first"})  # opens the route
    kernel = _kernel_end(router, key)
    assert kernel.recv()["content"] == {"value": "first"}
    kernel.send("input_request", {"prompt": '{"op": "ret"}',
                                  "password": False})
    msg = judge.recv()
    assert msg["msg_type"] == "input_request"
    assert msg["parent_header"]["msg_id"] == "exec-1"
    assert json.loads(msg["content"]["prompt"]) == {"op": "ret"}
    assert judge.recv(block=False) is None  # nothing more waiting


def test_jupyter_client_reads_and_writes_the_same_messages(pair):
    router, dealer, key = pair
    session = Session(key=key)
    session.send(dealer, "input_reply", {"value": "from Session"})
    kernel = _kernel_end(router, key)
    assert kernel.recv()["content"]["value"] == "from Session"
    kernel.send("input_request", {"prompt": "p", "password": False})
    _, msg = session.recv(dealer, mode=0)  # checks the signature
    assert msg["msg_type"] == "input_request"
    assert msg["content"] == {"prompt": "p", "password": False}
    assert msg["parent_header"]["msg_id"] == "exec-1"


def test_message_ids_differ(pair):
    router, dealer, key = pair
    judge = Wire(Session(key=key), dealer)
    kernel = _kernel_end(router, key)
    ids = set()
    for i in range(3):
        judge.send("input_reply", {"value": str(i)})
        ids.add(kernel.recv()["header"]["msg_id"])
    assert len(ids) == 3


@pytest.mark.parametrize("frames, why", [
    ([b"no delimiter"], "delimiter"),
    ([Wire.DELIM, b"sig", b"{}"], "missing parts"),
    ([Wire.DELIM, b"forged", b"{}", b"{}", b"{}", b"{}"], "signature"),
])
def test_a_bad_message_is_refused(pair, frames, why):
    router, dealer, key = pair
    dealer.send_multipart(frames)
    with pytest.raises(ChannelError, match=why):
        _kernel_end(router, key).recv()


@pytest.mark.parametrize("parts", [
    [b"[]", b"{}", b"{}", b"{}"],          # a header that is no object
    [b"{}", b"{}", b"{}", b"not json"],
])
def test_a_signed_message_that_is_not_json_objects_is_refused(pair, parts):
    router, dealer, key = pair
    session = Session(key=key)
    dealer.send_multipart([Wire.DELIM, session.sign(parts)] + parts)
    with pytest.raises(ChannelError, match="JSON|objects"):
        _kernel_end(router, key).recv()
