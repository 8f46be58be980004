-- arbor schema 3 (PostgreSQL). Never edit once landed: add a new numbered file instead.
-- Jira invalidations: what a webhook delivery made one node drop from its in-memory caches, kept so that the
-- deployment's other nodes drop it too (they follow the table every second). The payload holds issue ids,
-- changed field ids and names and one flag, never issue data; it is encrypted like the journal's (field names
-- are the site's configuration). The tenant row hands out the sequence numbers, so on PostgreSQL they are
-- committed in order and a follower never skips one. Entries older than a day are pruned.
ALTER TABLE tenants ADD COLUMN invalidation_seq BIGINT NOT NULL DEFAULT 0;
CREATE TABLE jira_invalidations (
    tenant_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    at BIGINT NOT NULL,
    payload BYTEA NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX jira_invalidations_at ON jira_invalidations (tenant_id, at);
