-- arbor schema 1 (SQLite). Never edit once landed: add a new numbered file instead.
-- Columns holding `BLOB` ciphertexts are encrypted (format: see arbor-store/src/crypto.rs).
-- There is no column for issue field values, by design.

-- AUTOINCREMENT: an id is never handed out twice, so nothing that names a deleted tenant, structure or
-- request (audit entries, open editors, approved scopes) can ever point at a new one.
CREATE TABLE tenants (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    site TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    key_version INTEGER NOT NULL,
    journal_seq INTEGER NOT NULL DEFAULT 0
);

-- Data keys, wrapped by the master key (which is never stored).
CREATE TABLE tenant_keys (
    tenant_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

-- The audit chain's key, wrapped by the master key.
CREATE TABLE deployment_keys (
    purpose TEXT PRIMARY KEY,
    master_key_id TEXT NOT NULL,
    wrapped BLOB NOT NULL
);

-- At most one key rotation at a time: a lease, so that a crashed rotation does not block the next one for long.
CREATE TABLE key_rotation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE people (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    settings BLOB NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, account_id)
);

-- Only the SHA-256 of a session token is stored.
CREATE TABLE sessions (
    token_hash BLOB PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX sessions_expiry ON sessions (expires_at);

CREATE TABLE oauth_tokens (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    account_id TEXT NOT NULL,
    tokens BLOB NOT NULL,
    expires_at INTEGER NOT NULL,
    UNIQUE (tenant_id, account_id)
);

CREATE TABLE structures (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    name BLOB NOT NULL,
    description BLOB NOT NULL,
    owner TEXT NOT NULL,
    version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX structures_tenant ON structures (tenant_id);

-- One encrypted snapshot per structure: row ids, depths, issue ids, folder names, memo texts, generator ids.
CREATE TABLE forests (
    structure_id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL,
    snapshot BLOB NOT NULL
);

CREATE TABLE permission_rules (
    structure_id INTEGER NOT NULL,
    position INTEGER NOT NULL,
    tenant_id INTEGER NOT NULL,
    grantee TEXT NOT NULL,
    level TEXT NOT NULL,
    PRIMARY KEY (structure_id, position)
);

CREATE TABLE generators (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    structure_id INTEGER NOT NULL,
    generator_id INTEGER NOT NULL,
    config BLOB NOT NULL,
    UNIQUE (structure_id, generator_id)
);

CREATE TABLE views (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    structure_id INTEGER NOT NULL,
    config BLOB NOT NULL
);
CREATE INDEX views_structure ON views (tenant_id, structure_id);

CREATE TABLE journal (
    tenant_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    op TEXT NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);

-- Append-only, HMAC-chained; one global sequence.
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    tenant_id INTEGER,
    actor TEXT,
    action TEXT NOT NULL,
    objects TEXT NOT NULL,
    outcome TEXT NOT NULL,
    at INTEGER NOT NULL,
    client TEXT,
    request_id TEXT,
    mac BLOB NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, seq);

CREATE TABLE audit_checkpoints (
    seq INTEGER PRIMARY KEY,
    mac BLOB NOT NULL,
    checkpoint_mac BLOB NOT NULL
);

CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL,
    mac BLOB NOT NULL,
    checkpoint_mac BLOB NOT NULL
);
INSERT INTO audit_head (id, seq, mac, checkpoint_mac) VALUES (1, 0, X'', X'');

CREATE TABLE backups (
    id TEXT PRIMARY KEY,
    created_at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    location TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    verified_at INTEGER
);

CREATE TABLE access_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    requester TEXT NOT NULL,
    reason BLOB NOT NULL,
    scope TEXT NOT NULL,
    duration_minutes INTEGER NOT NULL,
    status TEXT NOT NULL,
    decided_by TEXT,
    created_at INTEGER NOT NULL,
    decided_at INTEGER
);
CREATE INDEX access_requests_tenant ON access_requests (tenant_id);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    raised_at INTEGER NOT NULL,
    acknowledged_by TEXT
);
CREATE INDEX alerts_tenant ON alerts (tenant_id);
