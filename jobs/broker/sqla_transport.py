"""kombu's SQLAlchemy transport (the embedded, serverless broker) with adaptive polling and
strict queue order (urgent before normal before bulk).

Stock kombu sleeps a fixed interval (1 s, not configurable: it passes every transport option
to ``create_engine``) after every empty poll, and with prefetch 1 a poll is empty while the
task in hand runs, so every message cost at least one interval: 500 four-image jobs took
about 0.1 s each at a 0.1 s interval. Here the wait starts at 1 ms after each delivery and
doubles up to 0.1 s on an idle broker.
"""

from __future__ import annotations

from queue import Empty
from time import monotonic, sleep

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as sqla
from kombu.utils.scheduling import FairCycle

from jobs.sqlite import use_wal

ALIAS = "assetgen-sqla"


class StrictOrderCycle(FairCycle):
    """Always tries the queues in the order they were consumed (urgent, normal, bulk)."""

    def get(self, callback, **kwargs):
        self.pos = 0
        return super().get(callback, **kwargs)


class Channel(sqla.Channel):
    def _reset_cycle(self):
        self._cycle = StrictOrderCycle(self._get_and_deliver, self._active_queues, Empty)

    def _engine_from_config(self):
        # As for the job database: a publish no longer waits for a rollback-journal fsync, and
        # polls do not block publishers.
        engine = super()._engine_from_config()
        return use_wal(engine) if engine.dialect.name == "sqlite" else engine


class Transport(sqla.Transport):
    Channel = Channel
    polling_interval = 0.1  # the longest wait between two polls (an idle broker)
    min_polling_interval = 0.001  # the first wait after a delivery

    def drain_events(self, connection, timeout=None):
        """Deliver one message; between empty polls wait 1 ms, 2 ms, 4 ms ... up to
        polling_interval."""
        started, wait = monotonic(), self.min_polling_interval
        while True:
            try:
                self.cycle.get(self._deliver, timeout=timeout)
                return
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None
                sleep(wait)
                wait = min(wait * 2, self.polling_interval)


def register() -> None:
    """Make ``assetgen-sqla+sqlite:///...`` broker URLs resolve to this transport."""
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
