"""The firmware test harness runs tests under MicroPython and reports failures properly."""

import runpy
import textwrap
from pathlib import Path

import pytest

FIRMWARE_TESTS = Path(__file__).parents[1] / "firmware"


def test_platform_test_fails_under_cpython():
    # The same function that passes in the harness must fail when CPython runs it.
    ns = runpy.run_path(str(FIRMWARE_TESTS / "test_platform.py"))
    with pytest.raises(AssertionError, match="cpython"):
        ns["test_runs_on_micropython"]()


def _firmware_tree(pytester: pytest.Pytester, source: str) -> None:
    pytester.makeini("[pytest]\nmicropython_testpaths = fw\n")
    fw = pytester.mkdir("fw")
    (fw / "test_demo.py").write_text(textwrap.dedent(source))


def test_failure_reported_with_micropython_traceback(pytester: pytest.Pytester):
    _firmware_tree(pytester, """\
        import sys

        def helper(x):
            return x["missing"]

        def test_passes():
            assert sys.implementation.name == "micropython"

        def test_fails():
            helper({"present": 1})

        async def test_async_fails():
            import asyncio
            await asyncio.sleep_ms(1)
            assert 1 + 1 == 3, "arithmetic"
        """)
    result = pytester.runpytest_subprocess("-p", "sealsim.pytest_plugin", "-v")
    result.assert_outcomes(passed=1, failed=2)
    out = result.stdout.str()
    assert "test_passes [micropython] PASSED" in out or "test_passes PASSED" in out
    # MicroPython's traceback, with the failing line of the helper and the exception.
    result.stdout.fnmatch_lines([
        "*MicroPython (esp32-devkitc-gm65, heap 56 KiB growing within 150 KiB) exit code 1*",
        "Traceback (most recent call last):",
        '*File "*test_demo.py", line 4, in helper*',
        "KeyError: missing",
    ])
    result.stdout.fnmatch_lines(["AssertionError: arithmetic"])


def test_skip_and_collect_error(pytester: pytest.Pytester):
    _firmware_tree(pytester, """\
        from mpytest import SkipTest

        def test_skipped():
            raise SkipTest("needs hardware")
        """)
    result = pytester.runpytest_subprocess("-p", "sealsim.pytest_plugin", "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["*needs hardware*"])


def test_heap_follows_board(pytester: pytest.Pytester):
    _firmware_tree(pytester, """\
        import gc

        def test_big_heap():
            gc.collect()
            assert gc.mem_free() + gc.mem_alloc() > 1024 * 1024
        """)
    assert pytester.runpytest_subprocess("-p", "sealsim.pytest_plugin").ret == 1
    result = pytester.runpytest_subprocess("-p", "sealsim.pytest_plugin",
                                           "--board", "esp32s3-devkitc-st7789")
    result.assert_outcomes(passed=1)
