"""The fake's float32 compute-type switch (TBD, DEFAULT, TF32 as CuPy's)."""

COMPUTE_TYPE_TBD, COMPUTE_TYPE_DEFAULT, COMPUTE_TYPE_TF32 = 0, 1, 7
_types = {"f": COMPUTE_TYPE_TBD}


def get_compute_type(dtype):
    if _types["f"] == COMPUTE_TYPE_TBD:
        _types["f"] = COMPUTE_TYPE_DEFAULT
    return _types["f"]


def set_compute_type(dtype, compute_type):
    _types["f"] = compute_type
