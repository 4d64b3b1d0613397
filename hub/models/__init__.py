"""ORM models: one metadata for the registry, the transaction log and the rollups."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# SQLite only gives an INTEGER PRIMARY KEY auto-increment semantics, so BigInteger ids
# become INTEGER there.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class Member(Base):
    __tablename__ = "members"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    instance: Mapped[str] = mapped_column(String(64))
    member_class: Mapped[str] = mapped_column(String(64))
    member_code: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300), default="")
    # Off: none of its subsystems may call, and none of its services answers.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Subsystem(Base):
    __tablename__ = "subsystems"

    id: Mapped[str] = mapped_column(String(300), primary_key=True)
    member_id: Mapped[str] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"), index=True)
    code: Mapped[str] = mapped_column(String(128))
    name: Mapped[str] = mapped_column(String(300), default="")
    base_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    # Requests a client may make per second and per day; None: the default (unlimited).
    quota_rps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    quota_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # SHA-256 (hex) of the client certificate that stands in for an API key over mutual TLS.
    cert_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)

    # A certificate proves one subsystem, also when two changes race (migration 0008).
    __table_args__ = (
        Index(
            "uq_subsystems_cert_sha256",
            "cert_sha256",
            unique=True,
            sqlite_where=text("cert_sha256 IS NOT NULL"),
            postgresql_where=text("cert_sha256 IS NOT NULL"),
        ),
    )


class Service(Base):
    __tablename__ = "services"

    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    subsystem_id: Mapped[str] = mapped_column(
        ForeignKey("subsystems.id", ondelete="CASCADE"), index=True
    )
    code: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(Text, default="")
    base_url: Mapped[str | None] = mapped_column(String(1000), nullable=True)
    service_type: Mapped[str] = mapped_column(String(16), default="REST")
    endpoints: Mapped[list] = mapped_column(JSON, default=list)
    personal_data: Mapped[bool] = mapped_column(Boolean, default=False)
    timeout_ms: Mapped[int] = mapped_column(Integer, default=10_000)
    max_body_bytes: Mapped[int] = mapped_column(Integer, default=1024 * 1024)
    request_schema: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    keep_bodies: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    updated_at: Mapped[datetime] = mapped_column(DateTime)


class Grant(Base):
    __tablename__ = "grants"

    client_id: Mapped[str] = mapped_column(
        ForeignKey("subsystems.id", ondelete="CASCADE"), primary_key=True
    )
    service_id: Mapped[str] = mapped_column(
        ForeignKey("services.id", ondelete="CASCADE"), primary_key=True
    )
    # Off: the client is refused as if it had no grant, and the grant is kept.
    enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=text("true"))
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiKey(Base):
    __tablename__ = "api_keys"
    # An id is never given twice, also on SQLite after the newest key was deleted (0008).
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subsystem_id: Mapped[str] = mapped_column(
        ForeignKey("subsystems.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(128))
    # The secret the hash was made under (hub.core.security.secret_id); None before 0010.
    secret_id: Mapped[str | None] = mapped_column(String(16), nullable=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime)
    # A rotated key keeps working until expires_at (the grace period); revoked_at ends it now.
    expires_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RegistryVersion(Base):
    """One row whose counter moves on every registry change, so every worker reloads."""

    __tablename__ = "registry_version"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, default=0)


class RegistryEvent(Base):
    """One change to the registry or its keys: who, when, what; hash-chained by ``id``
    (hub/registry/events.py). ``version``: the registry version the change made;
    ``key_id``/``signature``: the hub's Ed25519 signature of ``hash``, None where the change
    was made without the hub's signing key."""

    __tablename__ = "registry_events"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(DateTime, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(String(16))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(800))
    version: Mapped[int] = mapped_column(BigInteger)
    # Canonical JSON (hub.registry.events.detail_text), kept as text: hashed as stored.
    detail: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[str | None] = mapped_column(String(200), nullable=True)


class Transaction(Base):
    """One exchange that reached the gateway, append-only and hash-chained by ``seq``."""

    __tablename__ = "transactions"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(String(200))
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    client: Mapped[str] = mapped_column(String(300), default="")
    service: Mapped[str] = mapped_column(String(400), default="")
    provider: Mapped[str] = mapped_column(String(300), default="")
    method: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[str | None] = mapped_column(String(300), nullable=True)
    issue: Mapped[str | None] = mapped_column(String(300), nullable=True)
    status_code: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)
    fault_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    request_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    response_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    started_at: Mapped[datetime] = mapped_column(DateTime, index=True)
    total_ms: Mapped[float] = mapped_column(Float)
    upstream_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    hub_ms: Mapped[float] = mapped_column(Float)
    request_hash: Mapped[str | None] = mapped_column(String(100), nullable=True)
    response_hash: Mapped[str | None] = mapped_column(String(100), nullable=True)
    request_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    response_body: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    record_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int] = mapped_column(BigInteger)

    # Every index is paid on every insert. (client, seq) and (service, seq) serve the
    # operator's list, newest first by seq, without a sort; batch_id had no reader
    # (migration 0004). The X-Road-Id is indexed only where a client chose it: else it is
    # the request id, indexed already (migration 0005). A fault and a status other than 200
    # have theirs, on failed exchanges only: without them a rare fault was found by reading
    # the whole log; provider, officer and case have none, as every exchange would pay for
    # them (5.5 % of the gateway's throughput, migration 0012).
    __table_args__ = (
        Index("ix_transactions_client_seq", "client", "seq"),
        Index("ix_transactions_service_seq", "service", "seq"),
        *(
            Index(
                f"ix_transactions_{name}_seq",
                column,
                "seq",
                sqlite_where=text(where),
                postgresql_where=text(where),
            )
            for name, column, where in (
                ("fault", "fault_code", "fault_code IS NOT NULL"),
                ("status", "status_code", "status_code <> 200"),
            )
        ),
        Index(
            "ix_transactions_chosen_id",
            "id",
            sqlite_where=text("id <> request_id"),
            postgresql_where=text("id <> request_id"),
        ),
    )


class ChainHead(Base):
    """The last record of the chain; locked by each batch so writers on many nodes agree."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger, default=0)
    record_hash: Mapped[str] = mapped_column(String(64))
    batch_id: Mapped[int] = mapped_column(BigInteger, default=0)


class LogBatch(Base):
    """One group commit of the log: its range, last hash, and an Ed25519 signature of both."""

    __tablename__ = "log_batches"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    first_seq: Mapped[int] = mapped_column(BigInteger)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    committed_at: Mapped[datetime] = mapped_column(DateTime)
    key_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    signature: Mapped[str | None] = mapped_column(String(200), nullable=True)


from hub.models.stats import (  # noqa: E402, F401
    LatencyDay,
    LatencyHour,
    MinutePrune,
    RollupMark,
    StatsDay,
    StatsHour,
    StatsMinute,
)
