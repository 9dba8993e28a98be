"""The ``xoi-invoices`` command (and ``python -m pipeline``).

Ctrl-C or SIGTERM at any moment, even while the modules load, ends the command with one
line and the contract's status, 130 or 143, never a traceback: :func:`main` installs its
handlers before it imports anything else (the package imports nothing when it loads). A
run replaces them with its own while it runs (:mod:`pipeline.cli.signals`: it finishes what
it must and writes its report first).
"""

import os
import signal
import sys

_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupted(signum: int, frame: object) -> None:
    # Written and ended at once: raising KeyboardInterrupt could land anywhere (in a
    # module being imported, a finally clause) and print a traceback. Nothing is lost:
    # files appear whole or not at all, and the kernel releases the folder's lock.
    os.write(2, f"interrupted by {signal.Signals(signum).name}\n".encode())
    os._exit(128 + signum)


def main() -> None:
    for signum in _SIGNALS:
        signal.signal(signum, _interrupted)
    # Imported only now: the terminal filter, then the whole command.
    from .core.terminal import SafeStream

    if sys.stdout is not None:
        sys.stdout = SafeStream.over(sys.stdout)
    if sys.stderr is not None:
        sys.stderr = SafeStream.over(sys.stderr)
    from .cli.app import main as command

    try:
        command(prog_name="xoi-invoices")
    finally:
        # The command has said all it had to: a signal now would only turn its status
        # into 130, or, once Python starts exiting, kill it without its last words.
        signal.pthread_sigmask(signal.SIG_BLOCK, _SIGNALS)


if __name__ == "__main__":
    main()
