"""The anti-delegation tripwire of the course's contract (API.md).

Every graded item's reference implementation in dlcore is marked with
``@reference("<item name>")``. While a hidden test grades that item, it runs
the learner's code inside ``forbid("<item name>")``: any call into the
reference (imported, aliased, subclassed, wrapped or reached through the
module) raises :class:`DelegationError`, because the check lives in the
reference's own code, not in a name that could be bound elsewhere.

Outside ``forbid`` the marks cost one set lookup per call.
"""

import contextlib
import functools
import inspect

_forbidden = set()


class DelegationError(RuntimeError):
    """Raised when graded code calls the dlcore twin of the item being graded."""


def _trip(name):
    raise DelegationError(
        f"your {name} uses dlcore's reference implementation of {name} "
        f"(by import, alias, subclass, wrapper or module attribute). "
        f"This exercise asks you to write {name} yourself: delegating to "
        f"dlcore scores zero for this item. Items from earlier chapters "
        f"may be used."
    )


def _guard_function(fn, name):
    @functools.wraps(fn)
    def guarded(*args, **kwargs):
        if name in _forbidden:
            _trip(name)
        return fn(*args, **kwargs)

    guarded.__dlcore_item__ = name
    return guarded


def reference(name):
    """Mark a function or class as the reference implementation of item ``name``.

    For a class, ``__init__`` and every public method are guarded, so a
    subclass that calls any of them trips as well.
    """

    def mark(obj):
        if inspect.isclass(obj):
            for attr, value in list(vars(obj).items()):
                if inspect.isfunction(value) and (
                    attr == "__init__" or not attr.startswith("_")
                ):
                    setattr(obj, attr, _guard_function(value, name))
            obj.__dlcore_item__ = name
            return obj
        return _guard_function(obj, name)

    return mark


@contextlib.contextmanager
def forbid(*names):
    """Within the block, calling the references of ``names`` raises DelegationError."""
    added = [n for n in names if n not in _forbidden]
    _forbidden.update(added)
    try:
        yield
    finally:
        _forbidden.difference_update(added)


def forbidden():
    """The item names forbidden right now (a frozen copy)."""
    return frozenset(_forbidden)
