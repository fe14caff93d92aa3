"""Racing real threads against the database, each on its own connection, as requests would."""

import threading
from collections.abc import Callable

from django.db import connections


def race(workers: int, task: Callable[[int], object]) -> list[object]:
    """Run `task(i)` in `workers` threads released together; return results or exceptions.

    Each thread closes its own database connections, as a request thread would.
    """
    barrier = threading.Barrier(workers)
    results: list[object] = [None] * workers

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = task(index)
        except Exception as error:  # the caller inspects every outcome
            results[index] = error
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results
