"""What the offline schema caches (k8s_schemas.py, crd_schemas.py) share: a cache folder is
built beside its final place and swapped in whole, so a build that fails or is interrupted
leaves the previous cache as it was; and its JSON is written compact, with sorted keys.

Imported by the two scripts as a sibling module (`python tools/x.py` puts tools/ first on
sys.path); the Makefile's stamps depend on this file too.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


@contextmanager
def replaced(out: Path) -> Iterator[Path]:
    """A fresh folder beside `out` to fill; when the block ends without an error, it becomes
    `out` (the old one removed only after the new one is in place); on any error it is removed
    and `out` is left untouched."""
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}-", dir=out.parent))
    try:
        yield staging
        staging.chmod(0o755)
        if out.exists():
            retired = Path(tempfile.mkdtemp(prefix=f".{out.name}-old-", dir=out.parent))
            out.rename(retired / out.name)
            staging.rename(out)
            shutil.rmtree(retired)
        else:
            staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def write_json(path: Path, data: Any) -> None:
    """Compact JSON with sorted keys (the same bytes for the same data), folders made."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, separators=(",", ":"), sort_keys=True) + "\n", "utf-8")
