"""The HTTP server of ``dockyard serve``: Granian, with a bounded graceful shutdown.

On SIGTERM or SIGINT Granian (2.8) already drains: every worker stops accepting connections (the
port refuses new ones), closes idle keep-alive connections, and lets each request in progress run
to completion — a layer upload streaming its body, a blob download — closing its connection after
the response. Only when all of a worker's connections are closed does the app's lifespan shutdown
run (readiness answers 503, the job runner stops, queued audit records are written), and the
process exits 0.

Granian waits for that without a limit, so one slow client would hold a node forever. Dockyard
bounds it: workers still busy ``DOCKYARD_SHUTDOWN_GRACE_SECONDS`` after the signal are killed
(Granian's ``workers_kill_timeout``), and so are all workers at a second SIGTERM/SIGINT; the process
still exits 0. A request cut that way is as safe as a crash: an upload row records only the bytes of
requests that completed, so the client resumes from there, on this node or any other.
"""

from __future__ import annotations

from typing import Any

from granian import Granian
from granian.constants import Interfaces
from granian.log import logger

from dockyard.settings import Settings


class GracefulGranian(Granian):
    """Granian whose shutdown waits at most ``grace`` seconds, and stops at once on a second signal."""

    def __init__(self, *args: Any, grace: float, **kwargs: Any) -> None:
        # Granian treats a kill timeout of 0 as "wait forever"; a grace of 0 means "stop at once".
        super().__init__(*args, workers_kill_timeout=max(grace, 0.001), **kwargs)
        self.grace = grace

    def signal_handler_interrupt(self, *args: Any, **kwargs: Any) -> None:
        if self.interrupt_signal:
            logger.warning("Second stop signal: stopping workers now, requests in progress are cut")
            for worker in list(self.wrks):
                worker.kill()
        else:
            logger.info(f"Stop signal: finishing requests in progress for up to {self.grace:g}s "
                        "(a second SIGTERM/SIGINT stops at once)")
        super().signal_handler_interrupt(*args, **kwargs)


def serve(settings: Settings) -> None:
    GracefulGranian("dockyard.app:create_app", address=settings.host, port=settings.port,
                    interface=Interfaces.ASGI, workers=settings.workers, factory=True,
                    log_access=False, grace=settings.shutdown_grace_seconds).serve()
