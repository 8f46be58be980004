//! Structures made by the server itself rather than through the API: the demo's examples and the benchmark's
//! large structures. They go through the same storage calls as API changes (journaled, audited by the
//! caller), with the forest built as one history entry so that history and restore work on them as on any
//! other structure. That entry belongs to no sign-in session, so nobody's Undo takes the set-up back.

use arbor_core::columns::Column;
use arbor_core::edit::{Edit, Fragment, NewRow, Position};
use arbor_core::forest::Item;
use arbor_core::generator::Generator;
use arbor_core::history::{Author, StructureContent};
use arbor_core::ids::{ActorId, GeneratorId};
use arbor_core::permission::Rule;
use arbor_store::model::{Actor, NewStructure, StructureId, TenantId, ViewConfig};
use arbor_store::{Store, StoreError};

use crate::state::now;

/// What a structure is made of.
#[derive(Debug, Clone)]
pub struct Blueprint {
    pub name: String,
    pub description: String,
    pub owner: ActorId,
    /// Generators at the top level (their scope is the whole structure), in order.
    pub generators: Vec<Generator>,
    /// Manual rows after the generators.
    pub rows: Vec<NewRow>,
    pub rules: Vec<Rule>,
    /// Shared views, owned by the structure's owner.
    pub views: Vec<(String, Vec<Column>)>,
}

/// Why a blueprint could not be stored.
#[derive(Debug, thiserror::Error)]
pub enum SeedError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the blueprint is not valid: {0}")]
    Invalid(String),
}

/// Stores a blueprint as a new structure; returns its id.
pub async fn create(
    store: &dyn Store,
    tenant: TenantId,
    blueprint: &Blueprint,
) -> Result<StructureId, SeedError> {
    let invalid = |e: &dyn std::fmt::Display| SeedError::Invalid(e.to_string());
    let actor = Actor::new(blueprint.owner.clone(), now());
    let meta = store
        .create_structure(
            tenant,
            &NewStructure {
                name: blueprint.name.clone(),
                description: blueprint.description.clone(),
                owner: blueprint.owner.clone(),
            },
            &actor,
        )
        .await?;
    let mut version = meta.version;
    let mut rows = Vec::with_capacity(blueprint.generators.len() + blueprint.rows.len());
    for (n, generator) in (1u64..).zip(&blueprint.generators) {
        generator.validate().map_err(|e| invalid(&e))?;
        let gid = GeneratorId::new(n).map_err(|e| invalid(&e))?;
        let config = serde_json::to_value(generator).map_err(|e| invalid(&e))?;
        version = store
            .set_generator(tenant, meta.id, version, gid, &config, &actor)
            .await?;
        rows.push(NewRow::new(0, Item::Generator(gid)));
    }
    rows.extend(blueprint.rows.iter().cloned());
    if !rows.is_empty() {
        let mut content = StructureContent::new();
        let edit = Edit::Add {
            rows: Fragment::new(rows).map_err(|e| invalid(&e))?,
            at: Position::last_under(None),
        };
        let applied = content
            .apply(
                edit,
                content.version(),
                &Author::without_session(blueprint.owner.clone()),
                now(),
            )
            .map_err(|e| invalid(&e))?;
        let entry = content
            .entry(applied.version)
            .ok_or_else(|| SeedError::Invalid("no history entry".into()))?;
        version = store
            .save_forest(
                tenant,
                meta.id,
                version,
                content.forest(),
                Some(entry),
                &actor,
            )
            .await?;
    }
    if !blueprint.rules.is_empty() {
        store
            .set_rules(tenant, meta.id, version, &blueprint.rules, &actor)
            .await?;
    }
    for (name, columns) in &blueprint.views {
        let config = ViewConfig {
            name: name.clone(),
            columns: serde_json::to_value(columns).map_err(|e| invalid(&e))?,
        };
        // Shared: everyone the structure is shared with sees them; owned (as the structure) by its owner.
        store
            .create_view(tenant, meta.id, &config, true, &actor)
            .await?;
    }
    Ok(meta.id)
}
