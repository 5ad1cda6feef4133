"""`python -m quota_sidecar …` runs the same CLI as the `quota-sidecar` console script."""

from __future__ import annotations

import sys

from quota_sidecar.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
