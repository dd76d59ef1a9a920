"""Run a benchmark: `python -m benchmarks NAME [options]` runs benchmarks/NAME.py's main().

Each benchmark measures our code side by side with its baseline in the same run and
prints ratios; the machines are shared and noisy, so bare seconds mean little.
"""

import importlib
import os
import pkgutil
import sys
from pathlib import Path


def main() -> None:
    available = sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name != "common"
    )
    if len(sys.argv) < 2 or sys.argv[1] not in available:
        sys.exit(f"usage: python -m benchmarks {{{'|'.join(available)}}} [options]")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    module = importlib.import_module(f"benchmarks.{sys.argv[1]}")
    module.main(sys.argv[2:])


if __name__ == "__main__":
    main()
