# Helpers for firmware tests that run under MicroPython (importable as `mpytest`).


class SkipTest(Exception):
    pass


class raises:
    """with raises(ValueError): ...  -- fails unless the block raises that exception."""

    def __init__(self, exc_type):
        self.exc_type = exc_type
        self.value = None

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            raise AssertionError("did not raise " + self.exc_type.__name__)
        if not issubclass(exc_type, self.exc_type):
            return False  # a different exception: let it propagate with its traceback
        self.value = exc
        return True


def data_path(name):
    """Path of a file the host test put in the directory named by MPYTEST_DATA."""
    import os

    base = os.getenv("MPYTEST_DATA")
    if not base:
        raise SkipTest("MPYTEST_DATA is not set (this test is driven from a host test)")
    return base + "/" + name
