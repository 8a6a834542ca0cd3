//! The committed OpenAPI document matches the router: every route is documented, nothing
//! documented is missing, and the document is what `/v1/openapi.json` serves.

use std::collections::BTreeSet;

#[test]
fn every_route_is_documented_and_nothing_else() {
    let doc: serde_json::Value = serde_json::from_str(include_str!("../openapi.json")).unwrap();
    let documented: BTreeSet<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let source = include_str!("../src/lib.rs");
    let routed: BTreeSet<String> = source
        .split(".route(")
        .skip(1)
        .map(|rest| rest.split('"').nth(1).unwrap().to_string())
        .collect();
    assert!(!routed.is_empty());
    assert_eq!(documented, routed);
    assert_eq!(doc["openapi"], "3.0.3");
}
