"""Which Kafka client errors retrying cannot cure, and the one-line message that says so.

kafka-python raises the same exception types for a broker that is briefly gone and for one
that will never accept us; the consumer retries the first kind with backoff and stops on the
second (:class:`FatalSourceError`, exit code 4) instead of logging it forever.
"""

from __future__ import annotations

from kafka import errors as kafka_errors

from slaclock.consumers.errors import FatalSourceError

CODEC_PACKAGES = "python-snappy (snappy), lz4 (lz4) and zstandard (zstd)"

_AUTHENTICATION = (
    kafka_errors.SaslAuthenticationFailedError,
    kafka_errors.UnsupportedSaslMechanismError,
    kafka_errors.IllegalSaslStateError,
)


def fatal_kafka_error(exc: BaseException, topic: str, group: str) -> FatalSourceError | None:
    """The fatal error ``exc`` stands for (with a message that says what to fix), or None if
    it is transient. Messages name the topic and group, never credentials."""
    what = describe(exc)
    if isinstance(exc, kafka_errors.UnsupportedCodecError):
        return FatalSourceError(
            f"topic {topic} holds messages compressed with a codec this installation cannot "
            f"read ({what}); reinstall slaclock with its dependencies, which include "
            f"{CODEC_PACKAGES}"
        )
    if isinstance(exc, kafka_errors.AuthorizationError):
        return FatalSourceError(
            f"Kafka refused access to topic {topic} or group {group} ({what}); grant the "
            "consumer's principal READ on both (and DESCRIBE on the group)"
        )
    if isinstance(exc, _AUTHENTICATION):
        return FatalSourceError(
            f"Kafka authentication failed ({what}); check --security-protocol, "
            "--sasl-mechanism and the credentials"
        )
    if isinstance(exc, kafka_errors.KafkaConfigurationError):
        return FatalSourceError(f"Kafka rejected the client settings ({what})")
    if isinstance(exc, kafka_errors.InvalidTopicError):
        return FatalSourceError(f"{topic!r} is not a valid Kafka topic name ({what})")
    return None


def describe(exc: BaseException) -> str:
    """``Type: message``, once (kafka-python's messages often start with their type)."""
    name, text = type(exc).__name__, str(exc)
    return text if text.startswith(name) else f"{name}: {text}"


def missing_topic(topic: str, grace: float) -> FatalSourceError:
    return FatalSourceError(
        f"topic {topic} does not exist (waited {grace:g}s; see --topic-grace): create it, "
        "or check --topic and --bootstrap-servers"
    )
