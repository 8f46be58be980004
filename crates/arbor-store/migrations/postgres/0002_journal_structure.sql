-- arbor schema 2 (PostgreSQL). Never edit once landed: add a new numbered file instead.
-- The structure a journal entry concerns, in clear like the tenant id, so that one structure's history (its
-- edits, undo stacks and versions) is read without decrypting the tenant's whole journal. NULL for entries
-- that name no structure (settings, deleted views).
ALTER TABLE journal ADD COLUMN structure_id BIGINT;
CREATE INDEX journal_structure ON journal (tenant_id, structure_id, seq);
