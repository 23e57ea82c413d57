"""Instructor tooling of the course (not used by learners).

- ``notebooks``  reading nbgrader metadata: items, points, hidden regions
- ``release``    ``make release``: solutions/<chapter> -> chapters/<chapter>
- ``leaks``      finding solution code or hidden tests where they must not be
- ``feedback``   the nbgrader preprocessor that sanitises feedback

Command line: ``python -m coursekit --help``.
"""
