//! The committed OpenAPI document is what the code describes: regenerate it with `UPDATE_OPENAPI=1`.

#[test]
fn the_committed_openapi_document_matches_the_code() {
    let generated = arbor_server::ops::openapi_json();
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.json");
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, format!("{generated}\n")).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed.trim_end() == generated.trim_end(),
        "crates/arbor-server/openapi.json is out of date: run `UPDATE_OPENAPI=1 cargo test -p arbor-server --test api openapi`"
    );
    let document: serde_json::Value = serde_json::from_str(&generated).unwrap();
    assert!(document["openapi"].as_str().unwrap().starts_with("3.1"));
}
