"""Starting and stopping `inboxkit-mock serve` as a child process on a free loopback port."""

from __future__ import annotations

import os
import re
import secrets
import signal
import subprocess
import tempfile
import time
from typing import Any, Dict, List, Optional, Sequence

from ._binary import find_binary
from .client import InboxKitMock

_LISTENING = re.compile(r"listening on (http://\S+)")


class MockStartError(RuntimeError):
    """`serve` exited or did not get ready in time; the message has its output."""


class MockServer(InboxKitMock):
    """A `serve` process of its own, plus the client for it. Use as a context manager or call
    `stop()`. The clock starts paused unless `paused=False`.

    Every option of `serve` can be passed: the named ones below, anything else in `args`
    (e.g. `["--failure-rate", "0.1"]`).
    """

    def __init__(
        self,
        *,
        webhook_url: Optional[str] = None,
        secret: Optional[str] = None,
        api_key: Optional[str] = None,
        profile: Optional[str] = None,
        paused: bool = True,
        seed: Optional[int] = None,
        start_time: Optional[str] = None,
        timeout: Optional[str] = None,
        args: Sequence[str] = (),
        binary: Optional[str] = None,
        ready_timeout: float = 30.0,
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        api_key = api_key or "ik_test_" + secrets.token_hex(8)
        secret = secret or "whsec_test_" + secrets.token_hex(8)
        super().__init__("http://127.0.0.1:0", api_key, secret=secret)
        command: List[str] = [binary or find_binary(), "serve", "--bind", "127.0.0.1", "--port", "0"]
        command += ["--api-key", api_key, "--secret", secret]
        if webhook_url:
            command += ["--webhook-url", webhook_url]
        if profile:
            command += ["--profile", profile]
        if paused:
            command.append("--paused")
        if seed is not None:
            command += ["--seed", str(seed)]
        if start_time:
            command += ["--start-time", start_time]
        if timeout:
            command += ["--timeout", timeout]
        command += list(args)
        self.command = command
        self._stdout = tempfile.TemporaryFile(mode="w+b")
        self._stderr = tempfile.TemporaryFile(mode="w+b")
        child_env = {k: v for k, v in os.environ.items() if not k.startswith("INBOXKIT_MOCK_")}
        child_env.update(env or {})
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr, env=child_env
        )
        try:
            self.base_url = self._wait_listening(ready_timeout)
            self._wait_ready(ready_timeout)
        except BaseException:
            self.stop()
            raise

    def output(self) -> str:
        """What the process printed so far (standard output, then standard error)."""
        chunks = []
        for stream in (self._stdout, self._stderr):
            stream.seek(0)
            chunks.append(stream.read().decode(errors="replace"))
        return "".join(chunks)

    def _wait_listening(self, limit: float) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            self._stdout.seek(0)
            found = _LISTENING.search(self._stdout.read().decode(errors="replace"))
            if found:
                return found.group(1).rstrip("/")
            if self.process.poll() is not None:
                raise MockStartError(
                    f"inboxkit-mock serve exited with {self.process.returncode}:\n{self.output()}"
                )
            time.sleep(0.02)
        raise MockStartError(f"inboxkit-mock serve did not listen within {limit:g}s:\n{self.output()}")

    def _wait_ready(self, limit: float) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.health():
                return
            time.sleep(0.02)
        raise MockStartError(f"inboxkit-mock serve was not ready within {limit:g}s:\n{self.output()}")

    def stop(self, grace: float = 10.0) -> Optional[int]:
        """Stops the process (SIGTERM, then SIGKILL after `grace` seconds); returns its exit code."""
        process = self.process
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(grace)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for stream in (self._stdout, self._stderr):
            if not stream.closed:
                stream.close()
        return process.returncode

    def __enter__(self) -> "MockServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
