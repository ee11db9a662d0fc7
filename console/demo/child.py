"""Become a demo child that is stopped when its supervisor dies, even by SIGKILL.

``python child.py SUPERVISOR_PID ARGV...`` asks Linux to send this process SIGTERM
when its parent exits (``PR_SET_PDEATHSIG``, which survives exec), then execs ARGV. The
children run in sessions of their own, so without this a supervisor killed outright
would leave them running, holding the demo's ports. Standard library only: it runs
before anything else is imported. Elsewhere than Linux it only execs.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys

PR_SET_PDEATHSIG = 1


def main(argv: list[str]) -> None:
    supervisor, command = int(argv[0]), argv[1:]
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")
        if os.getppid() != supervisor:
            sys.exit(1)  # the supervisor died before the request took hold
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
