"""kombu's SQLAlchemy transport (the embedded, serverless broker) with a short poll interval.

Stock kombu passes every transport option to ``create_engine``, so its 1 s poll
interval cannot be configured; polling every 0.1 s keeps small jobs from waiting
a second per message on the embedded default.
"""
from __future__ import annotations

from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import sqlalchemy as sqla

ALIAS = "assetgen-sqla"


class Transport(sqla.Transport):
    polling_interval = 0.1


def register() -> None:
    """Make ``assetgen-sqla+sqlite:///...`` broker URLs resolve to this transport."""
    TRANSPORT_ALIASES.setdefault(ALIAS, f"{__name__}:Transport")
