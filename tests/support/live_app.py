"""The app served over real HTTP by uvicorn in a thread, for tools that need a real server.

The listening socket is bound before the server thread starts, so a client may connect at once:
the kernel queues the connection until uvicorn accepts it, and nothing has to wait or poll.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from inbound.web.app import create_app
from scheduler.composition import Runtime


@contextmanager
def serve(runtime: Runtime) -> Iterator[str]:
    """Yield the base URL (``http://127.0.0.1:PORT``) while the app is up; stop it after."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = int(sock.getsockname()[1])
    base = f"http://127.0.0.1:{port}"
    runtime.services.public_url = base
    config = uvicorn.Config(
        create_app(runtime.services), access_log=False, log_config=None, lifespan="on"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield base
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
