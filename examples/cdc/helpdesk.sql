-- A helpdesk-like database for change-data capture (docs/cdc.md): run with psql as a
-- superuser (docker-compose.yml's postgres runs it on first start; the CDC test runs it on
-- its own server). Debezium reads public.tickets from the WAL (wal_level=logical).
CREATE DATABASE helpdesk;
\connect helpdesk

CREATE TABLE tickets (
    id              bigserial PRIMARY KEY,
    subject         text NOT NULL,
    org_code        text NOT NULL,
    requester_email text,
    assignee        text,
    status          text NOT NULL DEFAULT 'new',
    severity        text,
    channel         text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
-- Every UPDATE then carries the whole previous row as Debezium's `before` image, so slaclock
-- reads each change as a delta (without it `before` holds only the key, and slaclock compares
-- with the snapshot it kept).
ALTER TABLE tickets REPLICA IDENTITY FULL;
