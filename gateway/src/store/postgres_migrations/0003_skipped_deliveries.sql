-- hookgate's schema, version 3: deliveries an endpoint's own plugin chain
-- dropped. They are stored with state 3 (skipped), `at` the time, `reason`
-- the plugin's reason and `skipped_by` the plugin; never scheduled.
ALTER TABLE deliveries ADD COLUMN skipped_by text;
