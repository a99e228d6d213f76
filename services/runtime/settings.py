"""Settings every service shares, read from ``SCHAKEL_*`` environment variables with local defaults."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from services.runtime.ratelimit import Rate
from services.runtime.roles import Role

if TYPE_CHECKING:
    from faststream.security import BaseSecurity

LOCAL_POSTGRES = "postgresql://schakel:schakel@127.0.0.1:5432"


def local_database(name: str) -> str:
    """The URL of database ``name`` on this machine's PostgreSQL (``deploy/local``).

    Without TLS: over loopback it protects nothing and cost the national replay a fifth of its
    time. A database on another host gets its URL from the environment, with ``sslmode=verify-full``.
    """
    return f"{LOCAL_POSTGRES}/{name}?sslmode=disable"


# Generous on purpose: far above what a person or a provider's system does (and what the demo
# simulator does when it plays a year in a minute), low enough that one runaway key cannot take a
# service. A referrer, the role a flood of referrals comes from, gets less.
DEFAULT_RATES: dict[str, Rate] = {
    **{role.value: Rate(per_second=100, burst=1000) for role in Role},
    Role.REFERRER.value: Rate(per_second=20, burst=200),
}


class KafkaSettings(BaseSettings):
    """How every Kafka client of Schakel reaches and authenticates to the cluster.

    PLAINTEXT for a cluster of the region's own on a private network (and ``deploy/local``).
    Regions sharing one cluster each get a SCRAM principal whose ACLs allow only its own topic
    namespace and its pools' topics (docs/pools.md, "A shared cluster"): namespaces alone separate
    names, not access.
    """

    model_config = SettingsConfigDict(env_prefix="SCHAKEL_", extra="ignore")

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    kafka_security_protocol: Literal["PLAINTEXT", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["SCRAM-SHA-256", "SCRAM-SHA-512"] = "SCRAM-SHA-512"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = SecretStr("")
    # The CA that signed the brokers' certificates (SASL_SSL); the system's trust store without one.
    kafka_ssl_cafile: Path | None = None

    @model_validator(mode="after")
    def _sasl_has_credentials(self) -> KafkaSettings:
        sasl = self.kafka_security_protocol != "PLAINTEXT"
        if sasl and not (self.kafka_sasl_username and self.kafka_sasl_password.get_secret_value()):
            raise ValueError(f"{self.kafka_security_protocol} needs kafka_sasl_username and kafka_sasl_password")
        if self.kafka_ssl_cafile is not None and self.kafka_security_protocol != "SASL_SSL":
            raise ValueError("kafka_ssl_cafile is only used with kafka_security_protocol SASL_SSL")
        return self

    def kafka_security(self) -> BaseSecurity | None:
        """For FastStream's broker."""
        if self.kafka_security_protocol == "PLAINTEXT":
            return None
        # Imported here, not above: every command-line tool and replay reader reads these settings,
        # and FastStream costs such a process 0.4 s to import; only SASL needs it.
        from faststream.security import SASLScram256, SASLScram512

        scram = SASLScram256 if self.kafka_sasl_mechanism == "SCRAM-SHA-256" else SASLScram512
        use_ssl = self.kafka_security_protocol == "SASL_SSL"
        context = ssl.create_default_context(cafile=self.kafka_ssl_cafile) if use_ssl else None
        return scram(
            self.kafka_sasl_username,
            self.kafka_sasl_password.get_secret_value(),
            ssl_context=context,
            use_ssl=use_ssl,
        )

    def kafka_client(self) -> dict[str, Any]:
        """The connection arguments of an aiokafka client (producer, consumer or admin)."""
        security = self.kafka_security()
        if security is None:  # aiokafka's default, PLAINTEXT
            return {"bootstrap_servers": self.kafka_bootstrap_servers}
        from faststream.kafka.security import parse_security  # only for SASL, as above

        return {"bootstrap_servers": self.kafka_bootstrap_servers, **parse_security(security)}


class ServiceSettings(KafkaSettings):
    """One service's configuration; each service subclasses it with its own defaults."""

    service: str
    host: str = "127.0.0.1"
    port: int
    database_url: str
    # A schema other than public isolates a test, or several services sharing one database.
    db_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]*$")
    auth_database_url: str = local_database("schakel_auth")
    auth_db_schema: str = Field(default="public", pattern=r"^[a-z_][a-z0-9_]*$")
    # Replicas of one service on one host share its port (SO_REUSEPORT); off, a second process on a
    # taken port fails at once instead of silently sharing it.
    reuse_port: bool = False
    # Prefixes every topic name; lets tests share one broker without seeing each other.
    topic_namespace: str = Field(default="", pattern=r"^[A-Za-z0-9_-]*$")
    kafka_partitions: int = Field(default=3, ge=1)
    consumer_max_attempts: int = Field(default=5, ge=1)
    # How often consumer lag and dead letters waiting are read from Kafka (services/runtime/lag.py).
    kafka_offsets_interval_seconds: float = Field(default=5.0, gt=0, le=300)
    outbox_batch_size: int = Field(default=200, ge=1)
    # How long the relay waits for Kafka to acknowledge a batch before it replaces the producer.
    publish_timeout_seconds: float = Field(default=30.0, gt=0, le=600)
    log_level: str = "INFO"
    # json: one JSON object a line, for machines (docs/operations.md, "Logs and metrics"); console: for a terminal.
    log_format: Literal["json", "console"] = "json"
    # Limits at the edge (docs/operations.md, "Limits"): checked before a request body is read.
    max_body_bytes: int = Field(
        default=128 * 1024, ge=1024, description="Largest request body; a route may allow more (declarations)."
    )
    rate_limiting: bool = Field(default=True, description="Per-key rate limits on; off for a benchmark.")
    rate_limits: dict[str, Rate] = Field(
        default_factory=lambda: dict(DEFAULT_RATES), description="Per role; roles not named keep their default."
    )

    @field_validator("rate_limits")
    @classmethod
    def _every_role_limited(cls, rates: dict[str, Rate]) -> dict[str, Rate]:
        unknown = set(rates) - set(DEFAULT_RATES)
        if unknown:
            raise ValueError(f"rate_limits: unknown roles {sorted(unknown)}; roles are {sorted(DEFAULT_RATES)}")
        return {**DEFAULT_RATES, **rates}

    def topic(self, name: str) -> str:
        """The real Kafka topic for a name from ``contracts.topics``."""
        return f"{self.topic_namespace}.{name}" if self.topic_namespace else name

    def group_id(self, consumer: str) -> str:
        return self.topic(f"{self.service}.{consumer}")
