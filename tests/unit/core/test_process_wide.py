import threading
import time

from streamhub.core.metrics import process_wide


def test_threads_arriving_together_build_once() -> None:
    calls: list[int] = []

    def build() -> object:
        calls.append(1)
        time.sleep(0.05)  # long enough for every thread to arrive while the first builds
        return object()

    get = process_wide(build)
    start = threading.Barrier(8)
    seen: list[object] = []

    def first_use() -> None:
        start.wait()
        seen.append(get())

    threads = [threading.Thread(target=first_use) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert len(seen) == 8 and all(value is seen[0] for value in seen)
    assert get() is seen[0]
