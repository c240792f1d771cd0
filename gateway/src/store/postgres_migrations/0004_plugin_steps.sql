-- hookgate's schema, version 4: what each plugin of a message's source
-- chain did (store/steps.rs, postcard), written with its completion; NULL
-- when no plugin ran.
ALTER TABLE messages ADD COLUMN steps bytea;
