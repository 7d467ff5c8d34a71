"""Tests on the services: PostgreSQL and Kafka (a store fixture over both stores counts)."""
