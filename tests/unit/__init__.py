"""Fast tests: no PostgreSQL, no Kafka, no command-line subprocess (`make test-unit`)."""
