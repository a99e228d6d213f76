"""What a deployment that takes part in pools knows of them (docs/pools.md): its region, the pools
file, the pools it leaves out, and where the pool topics are. Capacity tells and reads the pools,
monitoring shows them; both take part in the same pools the same way, so both use this."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

from pydantic import Field, PrivateAttr, model_validator
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from contracts import regions, topics
from contracts.pool import POOLS_FILE, Pool, Pools, load_pools
from services.runtime.kafka import ensure_topics
from services.runtime.settings import ServiceSettings

log = logging.getLogger(__name__)


class PooledSettings(ServiceSettings):
    """A service's settings with its region and pools, validated when they are made: an unknown
    region, an unreadable or invalid pools file, or an opt-out of a pool that does not exist, and the
    service refuses to start."""

    # The region this deployment serves: an id of contracts/regions.py (the registry or the 2013 survey).
    region: str = "gooi-en-vechtstreek"
    # Which regions pool which settings; every member region runs with the same file.
    pools_file: Path = POOLS_FILE
    # Pools of which the region is a member but this deployment does not take part in (names).
    pools_opt_out: list[str] = Field(default_factory=list)
    # Prefixes pool topics instead of ``topic_namespace``: regions sharing one cluster under their own
    # namespaces set it to the namespace they share ("" for none). Unset, it is ``topic_namespace``.
    pool_topic_namespace: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]*$")

    # The pools file as read and the pools taken part in, once, when the settings are made: every
    # event and request that asks for them reads these.
    _pools_file: Pools = PrivateAttr()
    _pools: tuple[Pool, ...] = PrivateAttr()

    @model_validator(mode="after")
    def _region_and_pools(self) -> PooledSettings:
        regions.known_region(self.region)
        pools = load_pools(self.pools_file)
        unknown = sorted(name for name in self.pools_opt_out if pools.named(name) is None)
        if unknown:
            raise ValueError(f"SCHAKEL_POOLS_OPT_OUT names pools not in {self.pools_file}: {', '.join(unknown)}")
        self._pools_file = pools
        self._pools = tuple(p for p in pools.of_region(self.region) if p.name not in self.pools_opt_out)
        return self

    def pools(self) -> tuple[Pool, ...]:
        """The pools this deployment takes part in: its region's, less those it opted out of."""
        return self._pools

    def pools_file_version(self) -> date:
        """The version (date) of the pools file this deployment runs with."""
        return self._pools_file.version

    def pools_sharing(self, setting: str) -> tuple[Pool, ...]:
        """The pools this deployment shares ``setting`` with; empty for a setting it keeps to itself."""
        return tuple(p for p in self.pools() if p.shares(setting))

    def pool_topics_with_dead_letters(self) -> list[str]:
        """The real topics of its pools and their dead letters: the runtime makes only the region's own."""
        names = [self.topic(pool.topic) for pool in self.pools()]
        return names + [topics.dead_letter(name) for name in names]

    def topic(self, name: str) -> str:
        """The real Kafka topic of ``name``; a pool's topic is shared by its members, so it takes the
        pool namespace rather than the region's own."""
        if not topics.is_pool_topic(name):
            return super().topic(name)
        namespace = self.topic_namespace if self.pool_topic_namespace is None else self.pool_topic_namespace
        return f"{namespace}.{name}" if namespace else name


async def ensure_pool_topics(settings: PooledSettings) -> None:
    """Create the pool topics and their dead letters with the runtime's topic configuration once Kafka
    answers (every member service makes them; whichever starts first): the runtime makes only the
    region's own topics, and a malformed pool event needs its ``.dlq``."""
    names = settings.pool_topics_with_dead_letters()
    if not names:
        return
    async for attempt in AsyncRetrying(
        retry=retry_if_exception_type(Exception),
        wait=wait_exponential(multiplier=0.2, max=5),
        before_sleep=lambda state: log.warning(
            "pool topics not created yet: %s", state.outcome and state.outcome.exception()
        ),
    ):
        with attempt:
            await ensure_topics(settings, names)
