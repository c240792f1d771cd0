-- hookgate's schema, version 5: the message's idempotency key as a
-- column, for the message list's filter (NULL for messages stored before
-- it, and for those without one; unindexed: a search reads the id range
-- it is given).
ALTER TABLE messages ADD COLUMN idempotency_key text;
