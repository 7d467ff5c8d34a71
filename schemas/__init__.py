"""Avro schemas of ticket events (``*.avsc``) and ``registry.json`` (schema id -> file)."""
