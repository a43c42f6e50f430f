"""`python -m nanscope ARGS…` and the `nanscope` console script: the command
line, run by the compiled extension inside this process."""

from __future__ import annotations

import signal
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    # Like the native program: Ctrl-C ends the run at once (the extension
    # holds no Python state to unwind). SIGPIPE stays ignored, as Rust
    # programs have it: a closed pipe is a write error the CLI ends quietly.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    from ._api import run_cli

    sys.stdout.flush()
    return run_cli(args)


def console() -> None:
    """The `nanscope` command's entry point."""
    sys.exit(main())


if __name__ == "__main__":
    console()
