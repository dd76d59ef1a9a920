"""Task functions the tests hand to a real task cluster."""

from pathlib import Path


def always_fail(log_path: str) -> None:
    with Path(log_path).open("a") as log:
        log.write("attempt\n")
    raise RuntimeError("this task always fails")
