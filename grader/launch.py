"""The ``grade`` console script. Before anything else is imported, it starts the sandbox host
for the commands that grade, so that the host's interpreter and numpy import run alongside the
grader's own start-up rather than after it."""
from __future__ import annotations

import os
import sys

#: Commands that run learner code, and so need the sandbox host.
GRADING_COMMANDS = ("submit", "batch")


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] in GRADING_COMMANDS and not {"-h", "--help"} & set(sys.argv):
        from grader.sandbox import control

        # Before numpy is imported: the grader's own numpy work is small, and a BLAS thread of
        # its would only spin on a core the learner processes need.
        for name, value in control.SINGLE_THREADED.items():
            os.environ.setdefault(name, value)
        control.prestart()
    from grader.cli import main as cli_main

    cli_main()
