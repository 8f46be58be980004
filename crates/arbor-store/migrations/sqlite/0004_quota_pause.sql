-- arbor schema 4 (SQLite). Never edit once landed: add a new numbered file instead.
-- The end of a tenant's Jira quota pause (Unix milliseconds, wall clock), NULL when none was recorded: the node
-- that met Jira's "hourly quota exhausted" 429 records it, and every node pauses its calls until then.
ALTER TABLE tenants ADD COLUMN quota_paused_until INTEGER;
