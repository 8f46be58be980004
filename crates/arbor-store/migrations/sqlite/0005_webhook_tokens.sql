-- arbor schema 5 (SQLite). Never edit once landed: add a new numbered file instead.
-- Webhook tokens already used: the identity of each Jira webhook token a node accepted (a SHA-256, hex, of its
-- `jti` or of the token; never the token), kept until the token expires (Unix milliseconds), so a token
-- replayed to any node of the deployment is refused. Expired rows are pruned.
CREATE TABLE webhook_tokens (
    tenant_id INTEGER NOT NULL,
    identity TEXT NOT NULL,
    expires INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, identity)
);
CREATE INDEX webhook_tokens_expires ON webhook_tokens (tenant_id, expires);
