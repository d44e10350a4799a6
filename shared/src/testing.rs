//! Helpers for the functions' own native tests.

use bytes::Bytes;
use http::{Request, Response, StatusCode};

/// Checks a function's router against the API description: every operation documented
/// under `base` must be routed (neither 405, nor 404 on a path without parameters). Path
/// parameters are replaced by the sample values of `params` (`("{id}", "DN-000123")`).
/// Returns how many operations were checked, or the first one that is not routed.
pub fn check_documented_routes(
    doc: &serde_json::Value,
    base: &str,
    params: &[(&str, &str)],
    call: impl Fn(Request<Bytes>) -> Response<Bytes>,
) -> Result<usize, String> {
    let paths = doc["paths"].as_object().ok_or("the description has no paths")?;
    let mut checked = 0;
    for (path, ops) in paths.iter().filter(|(p, _)| p.starts_with(base)) {
        let concrete = params.iter().fold(path.clone(), |p, (name, value)| p.replace(name, value));
        let methods = ops.as_object().ok_or(format!("{path}: no operations"))?.keys();
        for method in methods.filter(|k| *k != "parameters") {
            let req = Request::builder()
                .method(method.to_uppercase().as_str())
                .uri(&concrete)
                .body(Bytes::new())
                .map_err(|e| format!("{method} {concrete}: {e}"))?;
            let status = call(req).status();
            if status == StatusCode::METHOD_NOT_ALLOWED || (status == StatusCode::NOT_FOUND && !path.contains('{')) {
                return Err(format!("{method} {path} is documented but answers {status}"));
            }
            checked += 1;
        }
    }
    Ok(checked)
}
