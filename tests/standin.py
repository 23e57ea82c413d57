"""A stand-in for CuPy that runs on the CPU and refuses host NumPy calls.

``DeviceArray`` wraps a ``numpy.ndarray`` and behaves like a device array:
arithmetic, indexing, ``reshape``, ``.T``, ``astype``, reductions (which
return 0-d arrays, as CuPy's do) all work and give ``DeviceArray`` back.
``xp`` is its array module: the functions dlcore calls through
``xp = get_array_module(x)``, returning ``DeviceArray`` too.

What it refuses, loudly, is every way host NumPy could touch a device
array, which on CuPy would be an error or a silent copy to the host:

- ``np.asarray(x)``, ``np.array(x)``: ``__array__`` raises;
- ``np.exp(x)``, ``np.maximum(x, 0)``, ``host_array + x``: ufuncs refuse
  (``__array_ufunc__ = None``);
- ``np.zeros_like(x)``, ``np.dot(x, y)``, ``np.pad(x, ...)``: the array
  function protocol raises;
- a host ``numpy.ndarray`` mixed into device arithmetic or passed to an
  ``xp`` function: an error too (move it with ``xp.asarray`` first).

Because the stand-in computes with NumPy underneath, a layer run on it must
give bit for bit the numbers it gives on NumPy.
"""

import types

import numpy as np

__all__ = ["DeviceArray", "HostNumPyError", "xp", "to_device", "to_host"]


class HostNumPyError(TypeError):
    """Host NumPy was used on a device array (or mixed into device code)."""


def _refuse(what):
    raise HostNumPyError(
        f"{what} on a device array: host NumPy cannot read device memory. "
        f"Use xp = dlcore.backend.get_array_module(x) and call xp.* instead."
    )


def _unwrap(obj):
    """The NumPy data behind DeviceArrays, in tuples, lists and dicts too."""
    if isinstance(obj, DeviceArray):
        return obj._data
    if isinstance(obj, np.ndarray):
        raise HostNumPyError(
            f"a host numpy.ndarray of shape {obj.shape} was mixed into device "
            f"code; move it with xp.asarray first"
        )
    if isinstance(obj, (tuple, list)):
        return type(obj)(_unwrap(o) for o in obj)
    if isinstance(obj, dict):
        return {k: _unwrap(v) for k, v in obj.items()}
    return obj


def _wrap(obj):
    """NumPy results as DeviceArrays; NumPy scalars become 0-d arrays."""
    if isinstance(obj, np.ndarray):
        return DeviceArray(obj)
    if isinstance(obj, np.generic):
        return DeviceArray(np.asarray(obj))
    if isinstance(obj, tuple):
        return tuple(_wrap(o) for o in obj)
    if isinstance(obj, list):
        return [_wrap(o) for o in obj]
    return obj


def _call(fn, args, kwargs):
    return _wrap(fn(*_unwrap(args), **_unwrap(kwargs)))


# ---------------------------------------------------------------- the array

def _operator(name):
    def op(self, *args):
        return _wrap(getattr(self._data, name)(*_unwrap(args)))
    op.__name__ = name
    return op


def _in_place(name):
    def op(self, other):
        getattr(self._data, name)(_unwrap(other))
        return self
    op.__name__ = name
    return op


def _method(name):
    def method(self, *args, **kwargs):
        return _call(getattr(self._data, name), args, kwargs)
    method.__name__ = name
    return method


class DeviceArray:
    """An array "in device memory": a numpy.ndarray that host NumPy may
    not touch. Views stay views, so in-place updates reach their base."""

    __slots__ = ("_data",)
    __array_ufunc__ = None  # np.exp(x) and host_array + x are refused
    __array_module__ = None  # set to ``xp`` below; read by get_array_module
    __hash__ = None

    def __init__(self, data):
        if not isinstance(data, np.ndarray):
            raise TypeError(f"DeviceArray wraps a numpy.ndarray, not "
                            f"{type(data).__name__}")
        self._data = data

    # -- the ways host NumPy would reach in
    def __array__(self, *args, **kwargs):
        _refuse("numpy.asarray/numpy.array (an implicit copy to the host)")

    def __array_function__(self, func, types, args, kwargs):
        _refuse(f"host numpy.{func.__name__}")

    # -- the ways CuPy lets you out, explicitly
    def get(self):
        """A host copy (numpy.ndarray), as cupy.ndarray.get()."""
        return self._data.copy()

    def item(self):
        return self._data.item()

    def tolist(self):
        return self._data.tolist()

    def __float__(self):
        return float(self._data)

    def __int__(self):
        return int(self._data)

    def __bool__(self):
        return bool(self._data)

    def __len__(self):
        return len(self._data)

    def __iter__(self):
        for i in range(len(self._data)):
            yield self[i]

    def __repr__(self):
        return f"DeviceArray({self._data!r})"

    # -- attributes
    shape = property(lambda self: self._data.shape)
    dtype = property(lambda self: self._data.dtype)
    ndim = property(lambda self: self._data.ndim)
    size = property(lambda self: self._data.size)
    itemsize = property(lambda self: self._data.itemsize)
    nbytes = property(lambda self: self._data.nbytes)
    strides = property(lambda self: self._data.strides)
    T = property(lambda self: DeviceArray(self._data.T))

    # -- indexing
    def __getitem__(self, key):
        return _wrap(self._data[_unwrap(key)])

    def __setitem__(self, key, value):
        self._data[_unwrap(key)] = _unwrap(value)


# Methods and operators forward to NumPy and wrap what comes back.
for _name in ("reshape", "transpose", "astype", "copy", "ravel", "flatten",
              "squeeze", "swapaxes", "sum", "mean", "var", "std", "max",
              "min", "argmax", "argmin", "all", "any", "prod", "cumsum",
              "clip", "dot", "fill", "nonzero", "round", "view"):
    setattr(DeviceArray, _name, _method(_name))
for _name in ("add", "sub", "mul", "truediv", "floordiv", "mod", "pow",
              "matmul", "and", "or", "xor", "lshift", "rshift"):
    setattr(DeviceArray, f"__{_name}__", _operator(f"__{_name}__"))
    setattr(DeviceArray, f"__r{_name}__", _operator(f"__r{_name}__"))
    setattr(DeviceArray, f"__i{_name}__", _in_place(f"__i{_name}__"))
for _name in ("lt", "le", "eq", "ne", "gt", "ge", "neg", "pos", "abs",
              "invert"):
    setattr(DeviceArray, f"__{_name}__", _operator(f"__{_name}__"))


# ---------------------------------------------------------------- the module

def _function(name):
    np_fn = getattr(np, name)

    def fn(*args, **kwargs):
        return _call(np_fn, args, kwargs)
    fn.__name__ = name
    fn.__doc__ = f"numpy.{name} on device arrays."
    return fn


def asarray(a, dtype=None):
    """A device array from host data (a copy "to the device") or a device
    array (no copy when the dtype already matches)."""
    if isinstance(a, DeviceArray):
        return DeviceArray(np.asarray(a._data, dtype=dtype))
    return DeviceArray(np.array(_unwrap_host(a), dtype=dtype))


def array(a, dtype=None, copy=True):
    """Like asarray, but copies by default."""
    if isinstance(a, DeviceArray):
        return DeviceArray(np.array(a._data, dtype=dtype, copy=copy))
    return DeviceArray(np.array(_unwrap_host(a), dtype=dtype))


def _unwrap_host(a):
    """Host data for asarray: host arrays are welcome here (a transfer)."""
    if isinstance(a, (list, tuple)):
        return type(a)(_unwrap_host(o) for o in a)
    if isinstance(a, DeviceArray):
        return a._data
    return a


def asnumpy(a):
    """A host copy, as cupy.asnumpy."""
    return a.get() if isinstance(a, DeviceArray) else np.asarray(a)


class _Generator:
    """cupy.random.Generator's subset: draws land on the device."""

    def __init__(self, seed=None):
        self._rng = np.random.default_rng(seed)

    def __getattr__(self, name):
        if name not in ("random", "standard_normal", "normal", "uniform",
                        "integers", "permutation"):
            raise AttributeError(name)
        draw = getattr(self._rng, name)
        return lambda *args, **kwargs: _call(draw, args, kwargs)


# Every function CuPy also has that array code may reasonably call.
_FUNCTIONS = (
    "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "arange", "linspace", "eye",
    "exp", "log", "log1p", "expm1", "sqrt", "square", "abs", "sign",
    "tanh", "maximum", "minimum", "clip", "where", "isfinite", "isnan",
    "isinf", "sum", "mean", "var", "std", "max", "min", "argmax", "argmin",
    "all", "any", "prod", "cumsum", "dot", "matmul", "einsum", "tensordot",
    "reshape", "transpose", "concatenate", "stack", "pad", "take",
    "take_along_axis", "put_along_axis", "broadcast_to", "expand_dims",
    "squeeze", "ravel", "copy", "allclose", "array_equal", "unique",
    "nonzero", "count_nonzero", "outer", "round", "floor", "ceil",
)

xp = types.ModuleType("standin", __doc__)
for _name in _FUNCTIONS:
    setattr(xp, _name, _function(_name))
for _name in ("float16", "float32", "float64", "int8", "int16", "int32",
              "int64", "uint8", "bool_", "dtype", "newaxis", "pi", "inf",
              "nan", "e", "finfo", "iinfo"):
    setattr(xp, _name, getattr(np, _name))
del _name
xp.ndarray = DeviceArray
xp.asarray = asarray
xp.array = array
xp.asnumpy = asnumpy
xp.random = types.SimpleNamespace(default_rng=_Generator)
DeviceArray.__array_module__ = xp


def to_device(x):
    """Host array (or a dict of them) -> DeviceArray."""
    if isinstance(x, dict):
        return {k: to_device(v) for k, v in x.items()}
    return asarray(x)


def to_host(x):
    """DeviceArray (or a dict, or a number) -> numpy.ndarray."""
    if isinstance(x, dict):
        return {k: to_host(v) for k, v in x.items()}
    if isinstance(x, DeviceArray):
        return x.get()
    if isinstance(x, np.ndarray):
        raise HostNumPyError("expected a device array, got a host one: the "
                             "code under test left the device")
    return np.asarray(x)
