//! Small builders shared by the stories.

use arbor_core::edit::{Edit, Resolved};
use arbor_core::forest::{Forest, Item, Row};
use arbor_core::history::{Action, Author, HistoryEntry};
use arbor_core::ids::{
    ActorId, FolderName, GeneratorId, IssueId, MemoText, RowId, SessionTag, Timestamp, Version,
};
use arbor_store::Store;
use arbor_store::model::{Actor, NewStructure, TenantId};

pub(crate) const SECRET_NAME: &str = "Zanzibar launch roadmap";
pub(crate) const SECRET_DESCRIPTION: &str = "Quokka migration programme";
pub(crate) const SECRET_FOLDER: &str = "Pelican backlog folder";
pub(crate) const SECRET_MEMO: &str = "Marmalade memo: call the vendor";
pub(crate) const SECRET_JQL: &str = "project = OCELOT AND labels = narwhal";
pub(crate) const SECRET_VIEW: &str = "Flamingo planning view";
pub(crate) const SECRET_SETTING: &str = "Tangerine theme";
pub(crate) const SECRET_TOKEN: &str = "oauth-access-token-Wombat123";
pub(crate) const SECRET_REASON: &str = "Investigating Platypus incident";
pub(crate) const SECRET_FIELD: &str = "zz-secret-field-name-7q";

pub(crate) fn actor(name: &str) -> ActorId {
    ActorId::new(name).unwrap()
}

/// `name` signed in, in one session of theirs.
pub(crate) fn author(name: &str) -> Author {
    Author::in_session(
        actor(name),
        SessionTag::new(&format!("{name}-session")).unwrap(),
    )
}

pub(crate) fn at(millis: i64) -> Actor {
    Actor::new(actor("alice"), Timestamp::from_unix_millis(millis))
}

/// The history entry arbor-core records for an edit by alice, applied as `resolved`, making forest version
/// `version` (for stories that edit a bare forest rather than a `StructureContent`).
pub(crate) fn edit_entry(version: u64, edit: &Edit, resolved: Resolved) -> HistoryEntry {
    HistoryEntry {
        version: Version(version),
        actor: actor("alice"),
        session: None,
        time: Timestamp::from_unix_millis(0),
        action: Action::Edit {
            edit: edit.clone(),
            based_on: Version(version - 1),
        },
        change: resolved.change,
        inverse: resolved.inverse,
    }
}

pub(crate) fn row(id: u64, depth: u16, item: Item) -> Row {
    Row::new(RowId::new(id).unwrap(), depth, item)
}

pub(crate) fn issue(id: u64) -> Item {
    Item::Issue(IssueId::new(id).unwrap())
}

/// A small forest with every kind of item, carrying the secret folder and memo texts.
pub(crate) fn sample_forest() -> Forest {
    Forest::from_rows([
        row(1, 0, Item::Folder(FolderName::new(SECRET_FOLDER).unwrap())),
        row(2, 1, issue(10_001)),
        row(3, 1, Item::Memo(MemoText::new(SECRET_MEMO).unwrap())),
        row(4, 0, Item::Generator(GeneratorId::new(1).unwrap())),
        row(5, 0, issue(10_002)),
    ])
    .unwrap()
}

/// A forest of `n` issue rows in a shallow hierarchy.
pub(crate) fn big_forest(n: u64) -> Forest {
    Forest::from_rows((1..=n).map(|i| row(i, u16::from(i % 10 != 1), issue(10_000 + i)))).unwrap()
}

pub(crate) async fn tenant(store: &dyn Store, site: &str) -> TenantId {
    store
        .create_tenant(site, Timestamp::from_unix_millis(1))
        .await
        .unwrap()
}

pub(crate) fn new_structure() -> NewStructure {
    NewStructure {
        name: SECRET_NAME.into(),
        description: SECRET_DESCRIPTION.into(),
        owner: actor("alice"),
    }
}
