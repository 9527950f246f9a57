"""sqlite_utils, imported without numpy.

sqlite_utils imports numpy when it is installed, only to map numpy scalars to column types when
it creates tables from Python values. The store never hands it numpy values (title vectors are
stored as bytes) and creates its tables in SQL, while numpy's import is 0.1 s of CPU at every
command's start; the daemon imports numpy later, with the title vectors' model.
"""

from __future__ import annotations

import sys

if "sqlite_utils" not in sys.modules and "numpy" not in sys.modules:
    sys.modules["numpy"] = None  # type: ignore[assignment]  # `import numpy` fails meanwhile
    try:
        import sqlite_utils  # noqa: F401
    finally:
        del sys.modules["numpy"]
