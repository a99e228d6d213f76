"""Every Kafka client's connection comes from ``KafkaSettings`` (docs/pools.md, "A shared cluster")."""

from __future__ import annotations

import ssl

import pytest
from pydantic import ValidationError

from services.runtime.settings import KafkaSettings


def test_plaintext_is_the_bootstrap_address_alone() -> None:
    assert KafkaSettings(kafka_bootstrap_servers="kafka:9092").kafka_client() == {"bootstrap_servers": "kafka:9092"}
    assert KafkaSettings().kafka_security() is None


def test_sasl_gives_every_client_the_principal_and_mechanism() -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-256",
        kafka_sasl_username="eemland",
        kafka_sasl_password="s3cret",
    )
    client = settings.kafka_client()
    assert client["security_protocol"] == "SASL_PLAINTEXT"
    assert client["sasl_mechanism"] == "SCRAM-SHA-256"
    assert (client["sasl_plain_username"], client["sasl_plain_password"]) == ("eemland", "s3cret")
    assert client["ssl_context"] is None


def test_sasl_ssl_verifies_the_brokers() -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SASL_SSL", kafka_sasl_username="eemland", kafka_sasl_password="s3cret"
    )
    client = settings.kafka_client()
    assert client["security_protocol"] == "SASL_SSL"
    assert client["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert client["ssl_context"].check_hostname


@pytest.mark.parametrize("missing", ["kafka_sasl_username", "kafka_sasl_password"])
def test_sasl_without_credentials_is_refused_at_start(missing: str) -> None:
    values = {"kafka_sasl_username": "eemland", "kafka_sasl_password": "s3cret"} | {missing: ""}
    with pytest.raises(ValidationError, match="needs kafka_sasl_username and kafka_sasl_password"):
        KafkaSettings(kafka_security_protocol="SASL_PLAINTEXT", **values)


def test_a_ca_file_without_tls_is_a_mistake_not_a_silent_no_op() -> None:
    with pytest.raises(ValidationError, match="only used with kafka_security_protocol SASL_SSL"):
        KafkaSettings(kafka_ssl_cafile="/etc/ssl/ca.pem")


def test_the_password_is_not_shown() -> None:
    settings = KafkaSettings(
        kafka_security_protocol="SASL_PLAINTEXT", kafka_sasl_username="eemland", kafka_sasl_password="s3cret"
    )
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.model_dump())
