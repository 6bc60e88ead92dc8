"""The pytest plugin (registered by the wheel through the `pytest11` entry point).

Fixtures:

- `inboxkit_mock`: a fresh `serve` process per test, on a free loopback port, with a paused
  clock; it is stopped after the test. Configure it by overriding `inboxkit_mock_options` (a dict
  of `MockServer` keyword arguments: `webhook_url`, `secret`, `api_key`, `profile`, `args`...).
- `inboxkit_mock_options`: `{}` unless you override it (e.g. in your conftest.py).

Command-line options: `--inboxkit-mock-bin PATH` uses another binary.
"""

from __future__ import annotations

from typing import Any, Dict, Generator, Iterator

import pytest

from .server import MockServer


def pytest_addoption(parser: pytest.Parser) -> None:
    """Adds `--inboxkit-mock-bin`."""
    group = parser.getgroup("inboxkit-mock")
    group.addoption(
        "--inboxkit-mock-bin",
        default=None,
        help="the inboxkit-mock binary to run (default: the one installed with the wheel)",
    )


@pytest.fixture
def inboxkit_mock_options() -> Dict[str, Any]:
    """Keyword arguments for `MockServer`; override this fixture to point the mock at your app."""
    return {}


@pytest.fixture
def inboxkit_mock(
    request: pytest.FixtureRequest, inboxkit_mock_options: Dict[str, Any]
) -> Iterator[MockServer]:
    """A running mock with a paused clock, stopped after the test. When the test fails, the
    journal is added to its report (section `inboxkit-mock journal`)."""
    options = dict(inboxkit_mock_options)
    binary = request.config.getoption("--inboxkit-mock-bin")
    if binary and "binary" not in options:
        options["binary"] = binary
    server = MockServer(**options)
    try:
        yield server
    finally:
        server.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: Any) -> Generator[None, Any, None]:
    """Adds the mock's journal to the report of a failed test that used the fixture."""
    outcome = yield
    report = outcome.get_result()
    server = getattr(item, "funcargs", {}).get("inboxkit_mock")
    if report.when == "call" and report.failed and isinstance(server, MockServer):
        try:
            journal = server.journal()
        except Exception as error:  # the mock may be why the test failed
            journal = f"(journal unavailable: {error})"
        report.sections.append(("inboxkit-mock journal", journal))
