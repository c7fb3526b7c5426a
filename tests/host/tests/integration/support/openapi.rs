//! Every response an integration test sees from the repository's app must
//! be in `openapi.json`: a documented path and method answering one of the
//! statuses documented for it; an undocumented path answers 404 and an
//! undocumented method 405, both described under `components.responses`.
//! So a handler that starts returning a new status fails the first test
//! that provokes it until the document says so.

use serde_json::Value;
use std::collections::HashMap;
use std::sync::OnceLock;

/// Path → method → documented statuses.
struct Document(HashMap<String, HashMap<String, Vec<String>>>);

fn document() -> &'static Document {
    static DOCUMENT: OnceLock<Document> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let path = super::workspace_root().join("openapi.json");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let json: Value = serde_json::from_str(&text).expect("openapi.json is JSON");
        let mut paths = HashMap::new();
        for (path, item) in json["paths"].as_object().expect("openapi.json has paths") {
            let mut methods = HashMap::new();
            for (method, operation) in item.as_object().expect("a path item is an object") {
                if let Some(responses) = operation.get("responses").and_then(Value::as_object) {
                    methods.insert(method.to_ascii_uppercase(), responses.keys().cloned().collect());
                }
            }
            paths.insert(path.clone(), methods);
        }
        Document(paths)
    })
}

/// Whether `status` for `method path_and_query` is what the document says
/// the service answers.
pub fn check(method: &str, path_and_query: &str, status: u16) -> Result<(), String> {
    let path = path_and_query.split('?').next().unwrap_or("");
    let found = document().0.get(path).or_else(|| {
        document().0.iter().find(|(template, _)| auth::matches_template(template, path)).map(|(_, methods)| methods)
    });
    let Some(methods) = found else {
        return match status {
            404 => Ok(()),
            _ => Err(format!("{method} {path_and_query} answered {status}: the path is not in openapi.json (only 404 is)")),
        };
    };
    let Some(statuses) = methods.get(method) else {
        return match status {
            405 => Ok(()),
            _ => Err(format!("{method} {path_and_query} answered {status}: the method is not in openapi.json (only 405 is)")),
        };
    };
    let code = status.to_string();
    let range = format!("{}XX", status / 100);
    if statuses.iter().any(|s| *s == code || s.eq_ignore_ascii_case(&range)) {
        Ok(())
    } else {
        Err(format!("{method} {path_and_query} answered {status}, which openapi.json does not list (it lists {statuses:?})"))
    }
}
