"""Two regions of one pool on one shared Kafka cluster (docs/pools.md, "A shared cluster"; issue 15
part 1): a broker of deploy/local/kafka.sh that demands SASL/SCRAM and enforces ACLs, one principal
per region made by ``kafka.sh region``. The regions' real services work through their own
namespace and the pool's topics, and the pool still finds Eemland's free place for Gooi en
Vechtstreek; Eemland's principal can neither read, write, make nor even see Gooi en Vechtstreek's
topics, nor join its consumer groups; a wrong password and an unauthenticated client get nowhere."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    TopicAuthorizationFailedError,
)

from contracts import topics
from contracts.envelope import Envelope
from services.runtime.settings import KafkaSettings
from tests.support.infra import REPO, Infrastructure, Isolation
from tests.support.kafka import TopicReader
from tests.support.processes import bearer
from tests.support.regions import (
    EEMLAND,
    GP,
    GV,
    HILVERSUM,
    gooi_full_eemland_free,
    jeugdzorgplus_referral,
    ok,
    region_env,
    region_services,
)
from tests.support.server import free_port

KAFKA = REPO / "deploy/local/kafka.sh"
POOL = "midden-nederland"
# Authorization failed: the broker's answer inside a describe or create response.
TOPIC_AUTHORIZATION_FAILED = TopicAuthorizationFailedError.errno


@dataclass(frozen=True)
class SharedCluster:
    bootstrap: str
    pool_namespace: str
    passwords: dict[str, str]  # per region tag

    def namespace(self, tag: str) -> str:
        return f"{self.pool_namespace}-{tag}"

    def kafka(self, tag: str, password: str | None = None) -> KafkaSettings:
        return KafkaSettings(
            kafka_bootstrap_servers=self.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_username=tag,
            kafka_sasl_password=password or self.passwords[tag],
        )


@pytest.fixture
async def cluster(isolation: Isolation) -> AsyncIterator[SharedCluster]:
    """A broker regions share, for this test only, with principals ``gv`` and ``em``."""
    state = REPO / "var" / f"test-sasl-{isolation.namespace}"
    port = free_port()
    env = {
        **os.environ,
        "KAFKA_PORT": str(port),
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_STATE_DIR": str(state),
        "KAFKA_SASL_ADMIN_PASSWORD": secrets.token_urlsafe(16),
        "KAFKA_HEAP_OPTS": "-Xms256m -Xmx512m",
        "KAFKA_READY_TIMEOUT": "90",
    }
    shared = SharedCluster(
        f"127.0.0.1:{port}", isolation.namespace, {tag: secrets.token_urlsafe(16) for tag in ("gv", "em")}
    )

    def kafka_sh(*args: str, **extra: str) -> None:
        subprocess.run([str(KAFKA), *args], env={**env, **extra}, check=True, stdin=subprocess.DEVNULL, timeout=150)

    try:
        await asyncio.to_thread(kafka_sh, "start")
        # The pool's topics and their dead letters (contracts.topics.pool_capacity).
        pool_topics = f"{shared.pool_namespace}.pool.{POOL}."
        for tag, password in shared.passwords.items():
            await asyncio.to_thread(
                kafka_sh, "region", tag, shared.namespace(tag), pool_topics, KAFKA_REGION_PASSWORD=password
            )
        yield shared
    finally:
        await asyncio.to_thread(kafka_sh, "stop")
        shutil.rmtree(state, ignore_errors=True)


def _env(infra: Infrastructure, isolation: Isolation, cluster: SharedCluster, tag: str) -> dict[str, str]:
    """A region's deployment (``region_env``) with its own Kafka principal on the shared cluster."""
    return {
        **region_env(infra, isolation, tag),
        "SCHAKEL_KAFKA_BOOTSTRAP_SERVERS": cluster.bootstrap,
        "SCHAKEL_KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "SCHAKEL_KAFKA_SASL_USERNAME": tag,
        "SCHAKEL_KAFKA_SASL_PASSWORD": cluster.passwords[tag],
    }


async def _refused(attempt: Awaitable[object], error: type[BaseException] | tuple[type[BaseException], ...]) -> None:
    with pytest.raises(error):
        await attempt


@pytest.mark.timeout(420)
async def test_regions_share_a_cluster_through_the_pool_and_cannot_touch_each_others_topics(
    infra: Infrastructure, isolation: Isolation, cluster: SharedCluster
) -> None:
    env_gv, env_em = _env(infra, isolation, cluster, "gv"), _env(infra, isolation, cluster, "em")
    huisarts_gv = bearer("referrer", f"02:{GP}", env_gv)
    gv_events = f"{cluster.namespace('gv')}.{topics.INTAKE_EVENTS}"

    with (
        region_services(env_gv, GV, "shared-gv", "intake", "capacity") as (intake_gv, capacity_gv),
        region_services(env_em, EEMLAND, "shared-em", "capacity") as (capacity_em,),
    ):
        async with httpx.AsyncClient(timeout=30) as http:
            # The pool works through the shared cluster: Gooi en Vechtstreek sees Eemland's free place.
            await gooi_full_eemland_free(
                http, {"gv": capacity_gv, "em": capacity_em}, {"gv": env_gv, "em": env_em}, timeout=90
            )

            # A referral in Gooi en Vechtstreek reaches its own topic, readable with its own principal.
            created = await ok(
                await http.post(
                    f"{intake_gv}/v1/referrals",
                    headers=huisarts_gv,
                    json=jeugdzorgplus_referral("111222333", HILVERSUM),
                ),
                201,
            )
            async with TopicReader(
                cluster.kafka("gv"), gv_events, group_prefix=f"{cluster.namespace('gv')}."
            ) as reader:
                await reader.until(
                    lambda rs: any(Envelope.from_bytes(r.value).subject == created["referral_id"] for r in rs),
                    timeout=60,
                    what="the referral on gooi-en-vechtstreek's topic",
                )

    # Eemland's principal: Gooi en Vechtstreek's topics are not there for it, in any way.
    em = cluster.kafka("em").kafka_client()
    admin = AIOKafkaAdminClient(**em, request_timeout_ms=10_000)
    await admin.start()
    try:
        visible = await admin.list_topics()
        assert not [t for t in visible if t.startswith(f"{cluster.namespace('gv')}.")]
        assert f"{cluster.pool_namespace}.{topics.pool_capacity(POOL)}" in visible
        [described] = await admin.describe_topics([gv_events])
        assert described["error_code"] == TOPIC_AUTHORIZATION_FAILED
        made = await admin.create_topics([NewTopic(f"{cluster.namespace('gv')}.planted", 1, 1)])
        assert [code for _, code, _ in made.topic_errors] == [TOPIC_AUTHORIZATION_FAILED]
    finally:
        await admin.close()

    producer = AIOKafkaProducer(**em)
    await producer.start()
    try:
        await _refused(producer.send_and_wait(gv_events, b"{}"), TopicAuthorizationFailedError)
    finally:
        await producer.stop()

    # Reading through one of Gooi en Vechtstreek's consumer groups is refused before any fetch.
    intruder = AIOKafkaConsumer(gv_events, **em, group_id=f"{cluster.namespace('gv')}.monitoring.projection")
    try:
        await _refused(intruder.start(), (GroupAuthorizationFailedError, TopicAuthorizationFailedError))
    finally:
        await intruder.stop()

    # Without the right password, or without SASL at all, there is no connection.
    for client in (
        AIOKafkaAdminClient(**cluster.kafka("em", password="not-the-password").kafka_client()),
        AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, request_timeout_ms=5_000),
    ):
        try:
            await _refused(client.start(), KafkaConnectionError)
        finally:
            await client.close()
