-- hookgate's schema, version 2: endpoint protection that holds for the
-- cluster rather than per node.

-- An automatic disable owes the operator endpoint one `endpoint.disabled`
-- event; this is true until that event is stored, so a node that crashes
-- in between leaves the event to whichever node looks next.
ALTER TABLE disabled_endpoints ADD COLUMN announce boolean NOT NULL DEFAULT false;

-- Each rate-limited endpoint's pacer (GCRA), shared by every node:
-- `next` is the theoretical arrival time of the next attempt, `last_hold`
-- the latest turn handed to a held-back one.
CREATE TABLE pacers (
    endpoint  text PRIMARY KEY,
    next      bigint NOT NULL,
    last_hold bigint NOT NULL
);
