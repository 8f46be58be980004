//! The change journal: every mutation of a tenant's configuration, appended in the same transaction as the
//! state change, with a per-tenant sequence, the time, the actor, the operation's name and an encrypted
//! payload (the operation itself).
//!
//! The journal is the basis of history and undo persistence and of point-in-time recovery: replaying a
//! tenant's journal from the start ([`TenantState::replay`]) rebuilds exactly the state the store holds.
//! Sessions and OAuth tokens are deliberately not journaled: a replay must never resurrect a credential
//! that was revoked. Audit entries have their own chain; alerts and access requests are audited.
//!
//! Payload encoding: `json length: u32 BE ‖ JSON of the operation ‖ tail`, where the tail is an encoded forest
//! snapshot for [`JournalOp::ForestReplaced`] and empty otherwise (JSON would be several times larger and
//! slower for a 100,000-row forest).

use std::collections::BTreeMap;

use arbor_core::forest::Forest;
use arbor_core::history::HistoryEntry;
use arbor_core::ids::{ActorId, GeneratorId, Timestamp, Version};
use arbor_core::permission::Rule;
use serde::{Deserialize, Serialize};

use crate::codec::{decode_forest, encode_forest};
use crate::model::{SavedView, StructureId, ViewConfig, ViewId};

/// One journaled operation. Structure operations carry the version the structure has after them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum JournalOp {
    StructureCreated {
        structure: StructureId,
        name: String,
        description: String,
        owner: ActorId,
    },
    StructureUpdated {
        structure: StructureId,
        version: Version,
        name: String,
        description: String,
    },
    StructureDeleted {
        structure: StructureId,
    },
    /// An edit, undo, redo or restore, as the history entry arbor-core recorded: who, what and the exact change
    /// and inverse, so that [`arbor_core::history::StructureContent::from_history`] rebuilds the forest and
    /// the undo stacks. `entry.version` is the forest's own version; `version` is the structure's, which
    /// also moves on renames, rules and generators.
    ForestChanged {
        structure: StructureId,
        version: Version,
        entry: HistoryEntry,
    },
    /// A whole new forest (imports, restores, or saves without a change); carried in the payload's tail.
    ForestReplaced {
        structure: StructureId,
        version: Version,
        #[serde(skip)]
        forest: Forest,
    },
    RulesSet {
        structure: StructureId,
        version: Version,
        rules: Vec<Rule>,
    },
    GeneratorSet {
        structure: StructureId,
        version: Version,
        generator: GeneratorId,
        config: serde_json::Value,
    },
    GeneratorDeleted {
        structure: StructureId,
        version: Version,
        generator: GeneratorId,
    },
    /// A view made or changed. Entries written before views had owners name none and carry no `shared`: such
    /// a view belongs to its structure's owner and is shared (as migration 0006 decided for stored ones).
    ViewSet {
        structure: StructureId,
        view: ViewId,
        config: ViewConfig,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        owner: Option<ActorId>,
        #[serde(default = "shared_before_owners")]
        shared: bool,
    },
    ViewDeleted {
        view: ViewId,
    },
    SettingsSet {
        account: ActorId,
        settings: serde_json::Value,
    },
}

/// Views journaled before they had owners were everyone's.
fn shared_before_owners() -> bool {
    true
}

impl JournalOp {
    /// The operation's name, stored in clear next to the encrypted payload.
    pub fn name(&self) -> &'static str {
        match self {
            Self::StructureCreated { .. } => "structure.created",
            Self::StructureUpdated { .. } => "structure.updated",
            Self::StructureDeleted { .. } => "structure.deleted",
            Self::ForestChanged { .. } => "forest.changed",
            Self::ForestReplaced { .. } => "forest.replaced",
            Self::RulesSet { .. } => "rules.set",
            Self::GeneratorSet { .. } => "generator.set",
            Self::GeneratorDeleted { .. } => "generator.deleted",
            Self::ViewSet { .. } => "view.set",
            Self::ViewDeleted { .. } => "view.deleted",
            Self::SettingsSet { .. } => "settings.set",
        }
    }

    /// The structure the operation concerns, if it names one (stored in clear next to the payload, so that
    /// a structure's journal is read without decrypting the tenant's). A deleted view's entry names none.
    pub fn structure(&self) -> Option<StructureId> {
        match self {
            Self::StructureCreated { structure, .. }
            | Self::StructureUpdated { structure, .. }
            | Self::StructureDeleted { structure }
            | Self::ForestChanged { structure, .. }
            | Self::ForestReplaced { structure, .. }
            | Self::RulesSet { structure, .. }
            | Self::GeneratorSet { structure, .. }
            | Self::GeneratorDeleted { structure, .. }
            | Self::ViewSet { structure, .. } => Some(*structure),
            Self::ViewDeleted { .. } | Self::SettingsSet { .. } => None,
        }
    }

    pub(crate) fn encode(&self) -> Result<Vec<u8>, String> {
        match self {
            Self::ForestReplaced { forest, .. } => self.encode_with_tail(&encode_forest(forest)),
            _ => self.encode_with_tail(&[]),
        }
    }

    /// Encodes with an already encoded forest as the tail (saves encoding a large forest twice).
    pub(crate) fn encode_with_tail(&self, tail: &[u8]) -> Result<Vec<u8>, String> {
        let json = serde_json::to_vec(self).map_err(|e| e.to_string())?;
        let len = u32::try_from(json.len()).map_err(|_| "operation too large".to_owned())?;
        let mut out = Vec::with_capacity(4 + json.len() + tail.len());
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&json);
        out.extend_from_slice(tail);
        Ok(out)
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Self, String> {
        let len: [u8; 4] = bytes
            .get(..4)
            .and_then(|b| b.try_into().ok())
            .ok_or("truncated payload")?;
        let len = u32::from_be_bytes(len) as usize;
        let json = bytes.get(4..4 + len).ok_or("truncated payload")?;
        let tail = &bytes[4 + len..];
        // Folder names and memo texts written before bidirectional formatting characters were refused.
        let json = std::str::from_utf8(json).map_err(|e| e.to_string())?;
        let mut op: Self = serde_json::from_str(&arbor_core::ids::defuse_bidi(json))
            .map_err(|e| crate::error::json_error_without_values(&e))?;
        if let Self::ForestReplaced { forest, .. } = &mut op {
            *forest = decode_forest(tail)?;
        }
        Ok(op)
    }
}

/// One journal entry, decrypted.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: ActorId,
    pub op: JournalOp,
}

/// A structure as the journal rebuilds it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StructureState {
    pub name: String,
    pub description: String,
    pub owner: Option<ActorId>,
    pub version: Version,
    pub forest: Forest,
    pub rules: Vec<Rule>,
    pub generators: BTreeMap<GeneratorId, serde_json::Value>,
}

/// A tenant's journaled state: what [`TenantState::replay`] rebuilds and what the store can be compared with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TenantState {
    pub structures: BTreeMap<StructureId, StructureState>,
    pub views: BTreeMap<ViewId, (StructureId, SavedView)>,
    pub settings: BTreeMap<ActorId, serde_json::Value>,
}

impl TenantState {
    /// Applies entries in sequence order; an entry that does not fit the state so far is an error naming it.
    pub fn replay<'e>(entries: impl IntoIterator<Item = &'e JournalEntry>) -> Result<Self, String> {
        let mut state = Self::default();
        let mut last = 0;
        for entry in entries {
            if entry.seq <= last {
                return Err(format!("journal entry {} is out of order", entry.seq));
            }
            last = entry.seq;
            state
                .apply(&entry.op)
                .map_err(|e| format!("journal entry {}: {e}", entry.seq))?;
        }
        Ok(state)
    }

    fn structure(&mut self, id: StructureId) -> Result<&mut StructureState, String> {
        self.structures
            .get_mut(&id)
            .ok_or_else(|| format!("structure {id} does not exist"))
    }

    /// Applies one operation.
    pub fn apply(&mut self, op: &JournalOp) -> Result<(), String> {
        match op {
            JournalOp::StructureCreated {
                structure,
                name,
                description,
                owner,
            } => {
                self.structures.insert(
                    *structure,
                    StructureState {
                        name: name.clone(),
                        description: description.clone(),
                        owner: Some(owner.clone()),
                        ..StructureState::default()
                    },
                );
            }
            JournalOp::StructureUpdated {
                structure,
                version,
                name,
                description,
            } => {
                let s = self.structure(*structure)?;
                s.name.clone_from(name);
                s.description.clone_from(description);
                s.version = *version;
            }
            JournalOp::StructureDeleted { structure } => {
                self.structures.remove(structure);
                self.views.retain(|_, (s, _)| s != structure);
            }
            JournalOp::ForestChanged {
                structure,
                version,
                entry,
            } => {
                let s = self.structure(*structure)?;
                s.forest
                    .apply_change(&entry.change)
                    .map_err(|e| e.to_string())?;
                s.version = *version;
            }
            JournalOp::ForestReplaced {
                structure,
                version,
                forest,
            } => {
                let s = self.structure(*structure)?;
                s.forest = forest.clone();
                s.version = *version;
            }
            JournalOp::RulesSet {
                structure,
                version,
                rules,
            } => {
                let s = self.structure(*structure)?;
                s.rules.clone_from(rules);
                s.version = *version;
            }
            JournalOp::GeneratorSet {
                structure,
                version,
                generator,
                config,
            } => {
                let s = self.structure(*structure)?;
                s.generators.insert(*generator, config.clone());
                s.version = *version;
            }
            JournalOp::GeneratorDeleted {
                structure,
                version,
                generator,
            } => {
                let s = self.structure(*structure)?;
                s.generators.remove(generator);
                s.version = *version;
            }
            JournalOp::ViewSet {
                structure,
                view,
                config,
                owner,
                shared,
            } => {
                let owner = match owner {
                    Some(owner) => owner.clone(),
                    None => self
                        .structure(*structure)?
                        .owner
                        .clone()
                        .ok_or_else(|| format!("structure {structure} has no owner"))?,
                };
                let saved = SavedView {
                    owner,
                    shared: *shared,
                    config: config.clone(),
                };
                self.views.insert(*view, (*structure, saved));
            }
            JournalOp::ViewDeleted { view } => {
                self.views.remove(view);
            }
            JournalOp::SettingsSet { account, settings } => {
                self.settings.insert(account.clone(), settings.clone());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arbor_core::forest::{Item, Row};
    use arbor_core::ids::{IssueId, RowId};

    #[test]
    fn payloads_round_trip_with_and_without_a_forest() {
        let structure = StructureId::new(3).unwrap();
        let forest = Forest::from_rows([Row::new(
            RowId::new(1).unwrap(),
            0,
            Item::Issue(IssueId::new(7).unwrap()),
        )])
        .unwrap();
        let replaced = JournalOp::ForestReplaced {
            structure,
            version: Version(4),
            forest,
        };
        assert_eq!(
            JournalOp::decode(&replaced.encode().unwrap()).unwrap(),
            replaced
        );
        let rules = JournalOp::RulesSet {
            structure,
            version: Version(5),
            rules: Vec::new(),
        };
        assert_eq!(JournalOp::decode(&rules.encode().unwrap()).unwrap(), rules);
        assert!(JournalOp::decode(b"\0\0\0\x09{}").is_err());
        assert!(JournalOp::decode(b"").is_err());
    }

    /// A view journaled before views had owners replays as its structure owner's, shared: what migration 0006
    /// made of the stored ones, so a replay and the store agree.
    #[test]
    fn views_journaled_before_owners_belong_to_the_structure_owner_and_are_shared() {
        let structure = StructureId::new(3).unwrap();
        let old = br#"{"op":"view_set","structure":3,"view":1,"config":{"name":"Planning","columns":[]}}"#;
        let mut payload = u32::try_from(old.len()).unwrap().to_be_bytes().to_vec();
        payload.extend_from_slice(old);
        let op = JournalOp::decode(&payload).unwrap();
        let mut state = TenantState::default();
        state
            .apply(&JournalOp::StructureCreated {
                structure,
                name: "S".into(),
                description: String::new(),
                owner: ActorId::new("olivia").unwrap(),
            })
            .unwrap();
        state.apply(&op).unwrap();
        let (_, view) = &state.views[&ViewId::new(1).unwrap()];
        assert_eq!(view.owner.as_str(), "olivia");
        assert!(view.shared);
        assert_eq!(view.config.name, "Planning");
        // New entries name their owner and say whether the view is shared.
        let personal = JournalOp::ViewSet {
            structure,
            view: ViewId::new(2).unwrap(),
            config: view.config.clone(),
            owner: Some(ActorId::new("dev").unwrap()),
            shared: false,
        };
        assert_eq!(
            JournalOp::decode(&personal.encode().unwrap()).unwrap(),
            personal
        );
        state.apply(&personal).unwrap();
        let (_, view) = &state.views[&ViewId::new(2).unwrap()];
        assert_eq!((view.owner.as_str(), view.shared), ("dev", false));
    }

    #[test]
    fn forest_changes_keep_the_whole_history_entry_and_name_their_structure() {
        use arbor_core::edit::{Edit, Fragment, Position};
        use arbor_core::history::StructureContent;

        let structure = StructureId::new(3).unwrap();
        let mut content = StructureContent::new();
        let edit = Edit::Add {
            rows: Fragment::single(Item::Issue(IssueId::new(7).unwrap())),
            at: Position::last_under(None),
        };
        // Signed in: the entry keeps the session, which undo needs after a restart.
        let alice = arbor_core::history::Author::in_session(
            ActorId::new("alice").unwrap(),
            arbor_core::ids::SessionTag::new("alice-session").unwrap(),
        );
        content
            .apply(edit, Version(0), &alice, Timestamp::from_unix_millis(5))
            .unwrap();
        assert!(content.history()[0].session.is_some());
        let changed = JournalOp::ForestChanged {
            structure,
            version: Version(9),
            entry: content.history()[0].clone(),
        };
        assert_eq!(
            JournalOp::decode(&changed.encode().unwrap()).unwrap(),
            changed
        );
        assert_eq!(changed.structure(), Some(structure));
        let view_deleted = JournalOp::ViewDeleted {
            view: ViewId::new(1).unwrap(),
        };
        assert_eq!(view_deleted.structure(), None);
    }

    #[test]
    fn history_entries_stored_with_bidirectional_overrides_still_load_defused() {
        use arbor_core::edit::{Edit, Fragment, Position};
        use arbor_core::history::StructureContent;
        use arbor_core::ids::FolderName;

        let mut content = StructureContent::new();
        let edit = Edit::Add {
            rows: Fragment::single(Item::Folder(FolderName::new("a\u{FFFD}b").unwrap())),
            at: Position::last_under(None),
        };
        content
            .apply(
                edit,
                Version(0),
                &arbor_core::history::Author::without_session(ActorId::new("alice").unwrap()),
                Timestamp::from_unix_millis(5),
            )
            .unwrap();
        let changed = JournalOp::ForestChanged {
            structure: StructureId::new(3).unwrap(),
            version: Version(1),
            entry: content.history()[0].clone(),
        };
        let stored = crate::codec::tests::with_override(&changed.encode().unwrap());
        assert_eq!(JournalOp::decode(&stored).unwrap(), changed);
    }

    #[test]
    fn replay_refuses_entries_that_do_not_fit() {
        let entry = JournalEntry {
            seq: 1,
            at: Timestamp::from_unix_millis(1),
            actor: ActorId::new("a").unwrap(),
            op: JournalOp::StructureDeleted {
                structure: StructureId::new(1).unwrap(),
            },
        };
        assert_eq!(
            TenantState::replay([&entry]).unwrap(),
            TenantState::default()
        );
        let update = JournalEntry {
            op: JournalOp::RulesSet {
                structure: StructureId::new(1).unwrap(),
                version: Version(1),
                rules: Vec::new(),
            },
            ..entry.clone()
        };
        let err = TenantState::replay([&update]).unwrap_err();
        assert!(err.contains("journal entry 1"), "{err}");
        assert!(TenantState::replay([&entry, &entry]).is_err());
    }
}
