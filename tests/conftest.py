"""Shared fixtures: a seeded random generator per test."""

import numpy as np
import pytest


@pytest.fixture
def rng():
    """A NumPy Generator with a fixed seed, fresh for each test."""
    return np.random.default_rng(20240601)
