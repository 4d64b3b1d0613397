"""Rollup tables of the transaction log, and the mark of how far they have counted it.

Counts live at three grains (minute, hour, day; all UTC) so a query over any range reads
whole days in the middle and minutes or hours only at its edges. Latency histograms live at
hour and day grain, one row per (bucket, client, service, bin). Every table is clustered on
its key, bucket first (WITHOUT ROWID on SQLite), so a time range is one sequential read.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Float, Integer, SmallInteger, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.models import Base

_CLUSTERED = {"sqlite_with_rowid": False}


class _Counts:
    """Key and exact sums of one rollup row; ``fault_code`` is '' when the hub saw no fault."""

    bucket: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    client: Mapped[str] = mapped_column(String(300), primary_key=True)
    service: Mapped[str] = mapped_column(String(400), primary_key=True)
    provider: Mapped[str] = mapped_column(String(300), primary_key=True)
    status_code: Mapped[int] = mapped_column(Integer, primary_key=True)
    fault_code: Mapped[str] = mapped_column(String(64), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)
    succeeded: Mapped[int] = mapped_column(BigInteger)
    request_bytes: Mapped[int] = mapped_column(BigInteger)
    response_bytes: Mapped[int] = mapped_column(BigInteger)
    # Sums, for means; percentiles come from the latency tables.
    total_ms: Mapped[float] = mapped_column(Float)
    hub_ms: Mapped[float] = mapped_column(Float)
    upstream_ms: Mapped[float] = mapped_column(Float)


class _Latency:
    """How many exchanges of one key fell in latency bin ``bin`` (see hub.stats.histogram)."""

    bucket: Mapped[datetime] = mapped_column(DateTime, primary_key=True)
    client: Mapped[str] = mapped_column(String(300), primary_key=True)
    service: Mapped[str] = mapped_column(String(400), primary_key=True)
    provider: Mapped[str] = mapped_column(String(300), primary_key=True)
    bin: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    n_total: Mapped[int] = mapped_column(BigInteger)
    n_hub: Mapped[int] = mapped_column(BigInteger)


class StatsMinute(_Counts, Base):
    __tablename__ = "stats_minute"
    __table_args__ = _CLUSTERED


class StatsHour(_Counts, Base):
    __tablename__ = "stats_hour"
    __table_args__ = _CLUSTERED


class StatsDay(_Counts, Base):
    __tablename__ = "stats_day"
    __table_args__ = _CLUSTERED


class LatencyHour(_Latency, Base):
    __tablename__ = "stats_latency_hour"
    __table_args__ = _CLUSTERED


class LatencyDay(_Latency, Base):
    __tablename__ = "stats_latency_day"
    __table_args__ = _CLUSTERED


class RollupMark(Base):
    """How far the rollups have counted the log: every record up to ``seq``, none after.

    The log writer folds its batches into the rollup tables every fraction of a second
    instead of in every commit (hub/stats/rollup.py); readers add the records after
    ``seq`` themselves, so a count still equals the log's at any moment.
    """

    __tablename__ = "rollup_mark"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)


class MinutePrune(Base):
    """How far the minute rollups were pruned (hub/stats/retention.py): rows before
    ``pruned_before`` may be gone, and every one from it on is kept.

    NULL: none was pruned. No row: not known (a database an older hub pruned), and only the
    oldest minute row's hour tells. ``hub audit verify`` holds the minutes from here on to
    their hours, so rows deleted from the oldest on are told from pruned ones.
    """

    __tablename__ = "minute_prune"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    pruned_before: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
