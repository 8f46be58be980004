-- arbor schema 6 (PostgreSQL). Never edit once landed: add a new numbered file instead.
-- Views have an owner (an account id, in clear like a structure's) and are personal (only the owner sees them)
-- or shared (everyone who may view the structure sees them; only the owner or someone with Control changes
-- them). Views made before owners existed were seen and changed by everyone: each is given its structure's
-- owner and stays shared.
ALTER TABLE views ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE views ADD COLUMN shared BIGINT NOT NULL DEFAULT 0;
UPDATE views SET shared = 1, owner = COALESCE((
    SELECT s.owner FROM structures s WHERE s.tenant_id = views.tenant_id AND s.id = views.structure_id
), '');
