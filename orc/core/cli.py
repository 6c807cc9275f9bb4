"""What every command line of the suite shares (docs/README.md, "Command lines")."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class Parser(argparse.ArgumentParser):
    """argparse with the house's error shape: one line on stderr, exit 2."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        print(f"{self.prog}: error: {message}; see {self.prog} --help", file=sys.stderr)
        raise SystemExit(EXIT_USAGE)


def fail(prog: str, message: str, code: int = EXIT_FAILED) -> int:
    """Print ``<prog>: error: <message>`` on stderr and return ``code`` for ``main``."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    return code
