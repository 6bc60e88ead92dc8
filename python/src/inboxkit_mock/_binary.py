"""Locating the `inboxkit-mock` binary that the wheel installs next to the interpreter."""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig

BINARY_NAME = "inboxkit-mock" + (".exe" if sys.platform == "win32" else "")


class BinaryNotFound(RuntimeError):
    """The `inboxkit-mock` binary is neither in `INBOXKIT_MOCK_BIN` nor installed."""


def find_binary() -> str:
    """The path of the `inboxkit-mock` binary.

    Order: `$INBOXKIT_MOCK_BIN`, the scripts directory of this interpreter (where the wheel puts
    it, also for `--user` installs), then `PATH`.
    """
    explicit = os.environ.get("INBOXKIT_MOCK_BIN")
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        raise BinaryNotFound(f"INBOXKIT_MOCK_BIN={explicit!r} is not an executable file")
    candidates = [sysconfig.get_path("scripts")]
    user_scheme = "nt_user" if os.name == "nt" else "posix_user"
    try:
        candidates.append(sysconfig.get_path("scripts", scheme=user_scheme))
    except KeyError:
        pass
    candidates.append(os.path.dirname(sys.executable))
    for directory in candidates:
        path = os.path.join(directory, BINARY_NAME)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    found = shutil.which(BINARY_NAME)
    if found:
        return found
    raise BinaryNotFound(
        "the inboxkit-mock binary was not found next to this Python "
        f"({sys.executable}) nor on PATH; reinstall the wheel or set INBOXKIT_MOCK_BIN"
    )
