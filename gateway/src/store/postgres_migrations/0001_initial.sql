-- hookgate's schema, version 1. Times are Unix milliseconds; ids are
-- `msg_`/`dlv_` + a ULID, compared byte by byte (COLLATE "C"), so id order
-- is time order. Records the core only reads whole (what was received, a
-- delivery's plan, each attempt) are postcard bytes, as on the embedded
-- engines; what queries filter or order by is a column.

CREATE TABLE messages (
    id          text COLLATE "C" PRIMARY KEY,
    source      text NOT NULL,
    event_type  text NOT NULL,
    received_at bigint NOT NULL,
    received    bytea NOT NULL,
    -- NULL while the message waits for the pipeline.
    status      bytea,
    status_kind text NOT NULL DEFAULT 'pending'
);

-- The pipeline queue: a message waits here until its pipeline completion
-- commits. A lease (node, token, until) keeps other nodes off it; a row
-- whose lease lapsed (until <= now) is anyone's.
CREATE TABLE pipeline (
    message_id  text COLLATE "C" PRIMARY KEY,
    lease_node  text,
    lease_token bigint,
    lease_until bigint NOT NULL DEFAULT 0
);
CREATE INDEX pipeline_by_lease ON pipeline (lease_until, message_id);
CREATE INDEX pipeline_by_node ON pipeline (lease_node) WHERE lease_node IS NOT NULL;

-- Idempotency keys: one row per (source, key), whatever node took it.
CREATE TABLE dedup (
    key        bytea PRIMARY KEY,
    message_id text COLLATE "C" NOT NULL,
    first_at   bigint NOT NULL,
    window_ms  bigint NOT NULL
);
CREATE INDEX dedup_by_age ON dedup (first_at);

-- state: 0 scheduled (due at `at`, or its claim lapses then), 1 delivered
-- (at `at`), 2 dead (at `at`, for `reason`).
CREATE TABLE deliveries (
    id          text COLLATE "C" PRIMARY KEY,
    message_id  text COLLATE "C" NOT NULL,
    endpoint    text COLLATE "C" NOT NULL,
    event_type  text NOT NULL,
    plan        bytea NOT NULL,
    state       smallint NOT NULL,
    at          bigint NOT NULL,
    reason      text,
    attempts    bytea[] NOT NULL DEFAULT '{}',
    last_status integer,
    claim_node  text,
    claim_token bigint,
    claim_until bigint
);
CREATE INDEX deliveries_by_message ON deliveries (message_id);
CREATE INDEX deliveries_due_by_endpoint ON deliveries (endpoint, at, id) WHERE state = 0;
CREATE INDEX deliveries_due ON deliveries (at, id) WHERE state = 0;
CREATE INDEX deliveries_claimed ON deliveries (claim_until) WHERE claim_token IS NOT NULL;

CREATE TABLE disabled_endpoints (
    name   text PRIMARY KEY,
    at     bigint NOT NULL,
    reason text NOT NULL
);

-- What the management API created, and plugin components by content hash.
CREATE TABLE objects (
    kind text NOT NULL,
    name text COLLATE "C" NOT NULL,
    json bytea NOT NULL,
    PRIMARY KEY (kind, name)
);
CREATE TABLE blobs (
    hash  text PRIMARY KEY,
    bytes bytea NOT NULL
);

-- The configuration's version: every change to `objects` made through the
-- API moves it on by one, compare-and-set, so two nodes' changes are
-- serialised and each node reloads when it moves.
CREATE TABLE registry (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version  bigint NOT NULL
);
INSERT INTO registry (version) VALUES (0);
