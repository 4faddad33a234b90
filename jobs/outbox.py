"""The outbox relay: publish committed messages to the broker, then mark them sent.

Messages are written in the same transaction as the rows they announce, so a
broker that is down (or loses its queue) never loses work: unsent rows are
published by the next relay run. Publishing twice is harmless: claiming an item
is idempotent.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from jobs.db.tables import OutboxMessage, utcnow

log = logging.getLogger(__name__)

Publisher = Callable[[str, dict], None]
# Topics with a consumer of their own that reads the outbox directly (jobs.webhooks): never sent to
# the broker.
CONSUMED_ELSEWHERE = ("webhook",)


def relay(sf: sessionmaker[Session], publish: Publisher, batch: int = 500) -> int:
    """Publish unsent messages in id order; return how many were sent. Stops at the first broker
    error."""
    sent = 0
    while True:
        with sf() as s:
            rows = s.execute(
                select(OutboxMessage.id, OutboxMessage.topic, OutboxMessage.payload)
                .where(
                    OutboxMessage.sent_at.is_(None), OutboxMessage.topic.not_in(CONSUMED_ELSEWHERE)
                )
                .order_by(OutboxMessage.id)
                .limit(batch)
            ).all()
        if not rows:
            return sent
        done: list[int] = []
        try:
            for row in rows:
                publish(row.topic, row.payload)
                done.append(row.id)
        except Exception as exc:  # broker down: the rows stay unsent for the next relay run
            log.warning(
                "outbox relay: broker unavailable (%s); %d message(s) left for later",
                type(exc).__name__,
                len(rows) - len(done),
            )
            return sent + _mark_sent(sf, done)
        sent += _mark_sent(sf, done)
        if len(rows) < batch:
            return sent  # that was the last of them (no second query to find nothing)


def _mark_sent(sf: sessionmaker[Session], ids: list[int]) -> int:
    if ids:
        with sf.begin() as s:
            s.execute(
                update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(sent_at=utcnow())
            )
    return len(ids)
