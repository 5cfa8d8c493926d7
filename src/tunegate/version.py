"""tunegate's version, in a leaf module: the pipeline records it in every result and the
CLI prints it without importing the package's ``__init__`` (which names the Python API).
``tunegate.__version__`` is this value."""

from __future__ import annotations

__all__ = ["__version__"]

#: Kept equal to ``[project].version`` in pyproject.toml (a test checks it).
__version__ = "0.1.0"
