"""The CPU a piece of code costs, read so that the test session around it does not decide."""

import gc
import math
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def least_cpu(call: Callable[[], T], *, rounds: int = 3) -> tuple[float, T]:
    """Calls `call` `rounds` times in this thread with the garbage collector paused, and
    returns the least CPU time one call took, with the last call's result.

    A collection of the whole session's objects, or a first call's imports, can add a quarter
    of a second to any one call; what the code itself costs is what every call costs."""
    gc.collect()
    collecting = gc.isenabled()
    gc.disable()
    try:
        least, result = math.inf, None
        for _ in range(rounds):
            started = time.thread_time()
            result = call()
            least = min(least, time.thread_time() - started)
    finally:
        if collecting:
            gc.enable()
    return least, result
