"""The capture agent's connectors share one schema registry client per registry URL."""

from __future__ import annotations

import threading

from streamhub.capture.emitter import registry_client


def test_one_registry_client_per_url_even_when_connectors_start_together() -> None:
    url = "http://127.0.0.1:1"  # never contacted: a client connects on its first request
    barrier = threading.Barrier(8)
    clients: list[object] = []

    def start() -> None:
        barrier.wait()
        clients.append(registry_client(url))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(clients) == 8 and all(c is clients[0] for c in clients)
    assert registry_client("http://127.0.0.1:2") is not clients[0]
