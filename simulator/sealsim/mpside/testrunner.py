# Runs one firmware test function under MicroPython (started by sealsim.pytest_plugin).
#
#   micropython -X heapsize=N testrunner.py MODULE FUNCTION
#
# Prints the traceback MicroPython gives and a last line the harness reads:
#   @@MPYTEST PASS | @@MPYTEST FAIL | @@MPYTEST SKIP <reason>
import sys


def _main():
    module_name = sys.argv[1]
    test_name = sys.argv[2]
    try:
        module = __import__(module_name)
        result = getattr(module, test_name)()
        if result is not None and hasattr(result, "send"):  # async def test_...
            import asyncio

            asyncio.run(result)
    except Exception as e:
        if type(e).__name__ == "SkipTest":
            print("\n@@MPYTEST SKIP", e.args[0] if e.args else "")
            return 0
        sys.print_exception(e)
        print("\n@@MPYTEST FAIL")
        return 1
    print("\n@@MPYTEST PASS")
    return 0


sys.exit(_main())
