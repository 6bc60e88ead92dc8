"""`python -m inboxkit_mock ...` runs the binary with the same arguments."""

from __future__ import annotations

import os
import subprocess
import sys

from ._binary import find_binary


def main() -> None:
    """Replaces this process with the binary (or waits for it where exec is not available)."""
    binary = find_binary()
    if sys.platform == "win32":
        sys.exit(subprocess.call([binary, *sys.argv[1:]]))
    os.execv(binary, [binary, *sys.argv[1:]])


if __name__ == "__main__":
    main()
