"""kombu's SQLAlchemy transport (the embedded, serverless broker) with a short poll interval
and strict queue order (urgent before normal before bulk).

Stock kombu passes every transport option to ``create_engine``, so its 1 s poll
interval cannot be configured; polling every 0.1 s keeps small jobs from waiting
a second per message on the embedded default.
"""
from __future__ import annotations

from queue import Empty

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as sqla
from kombu.utils.scheduling import FairCycle

ALIAS = "assetgen-sqla"


class StrictOrderCycle(FairCycle):
    """Always tries the queues in the order they were consumed (urgent, normal, bulk)."""

    def get(self, callback, **kwargs):
        self.pos = 0
        return super().get(callback, **kwargs)


class Channel(sqla.Channel):
    def _reset_cycle(self):
        self._cycle = StrictOrderCycle(self._get_and_deliver, self._active_queues, Empty)


class Transport(sqla.Transport):
    Channel = Channel
    polling_interval = 0.1


def register() -> None:
    """Make ``assetgen-sqla+sqlite:///...`` broker URLs resolve to this transport."""
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
