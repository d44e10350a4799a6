//! Spin variables: application variables, component variable templates, and the host side of
//! `fermyon:spin/variables@2.0.0`.
//!
//! As in Spin with its default (environment) provider:
//! - an application variable `[variables] name = { default = "...", required = true }` takes
//!   its value from the environment variable `SPIN_VARIABLE_<NAME IN UPPER CASE>` when that is
//!   set, else from its default; a required variable with neither stops the host at start;
//! - a component sees only the variables of its `[component.<id>.variables]` table, whose
//!   values are templates: literal text with `{{ app_variable }}` expressions;
//! - `get(name)` answers `invalid-name` for a name that is not a valid variable name (lower
//!   case letters, digits, single underscores, starting with a letter) and `undefined` for a
//!   name the component does not declare.
//!
//! All values are resolved once at start (the environment does not change while the host
//! runs), so a request never waits on the provider. Spin's `.env` file support is not
//! implemented.

use std::collections::BTreeMap;

use crate::bindings::fermyon::spin::variables;
use crate::manifest::VariableDef;
use crate::server::RequestState;

/// Prefix of the environment variables that set application variables.
pub const ENV_PREFIX: &str = "SPIN_VARIABLE_";

/// Checks a variable name the way Spin does; the error explains what is wrong.
pub fn validate_name(name: &str) -> Result<(), String> {
    let reason = if name.is_empty() {
        Some("must not be empty".to_owned())
    } else if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        Some(format!(
            "invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores."
        ))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("must start with a lowercase ASCII letter".to_owned())
    } else if !name.ends_with(|c: char| c.is_ascii_alphanumeric()) {
        Some("must end with a lowercase ASCII letter or digit".to_owned())
    } else if name.contains("__") {
        Some("must not contain multiple consecutive underscores".to_owned())
    } else {
        None
    };
    match reason {
        Some(r) => Err(format!("invalid variable name {name:?}: {r}")),
        None => Ok(()),
    }
}

/// The environment variable that overrides application variable `name`.
pub fn env_var_name(name: &str) -> String {
    format!("{ENV_PREFIX}{}", name.to_ascii_uppercase())
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Literal(String),
    Variable(String),
}

/// Splits a template into literal text and `{{ name }}` expressions.
pub fn parse_template(template: &str) -> Result<Vec<Part>, String> {
    let mut parts = Vec::new();
    let mut rest = template;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("{{") {
            let (expr, tail) =
                after.split_once("}}").ok_or_else(|| format!("unmatched '{{{{' in template {template:?}"))?;
            let name = expr.trim();
            validate_name(name).map_err(|e| format!("in template {template:?}: {e}"))?;
            parts.push(Part::Variable(name.to_owned()));
            rest = tail;
        } else {
            let end = rest.find("{{").unwrap_or(rest.len());
            parts.push(Part::Literal(rest[..end].to_owned()));
            rest = &rest[end..];
        }
    }
    Ok(parts)
}

/// Expands a template against resolved application variables.
pub fn resolve_template(template: &str, app: &BTreeMap<String, String>) -> Result<String, String> {
    let mut out = String::new();
    for part in parse_template(template)? {
        match part {
            Part::Literal(s) => out.push_str(&s),
            Part::Variable(name) => match app.get(&name) {
                Some(v) => out.push_str(v),
                None => {
                    return Err(format!(
                        "template {template:?} refers to {name:?}, which is not an application variable ([variables])"
                    ));
                }
            },
        }
    }
    Ok(out)
}

/// Resolves every application variable: `lookup(SPIN_VARIABLE_<NAME>)`, else the default.
/// Fails, naming every missing one, when required variables have no value.
pub fn resolve_app_variables(
    defs: &BTreeMap<String, VariableDef>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<BTreeMap<String, String>, String> {
    let mut values = BTreeMap::new();
    let mut missing = Vec::new();
    for (name, def) in defs {
        let env_name = env_var_name(name);
        match lookup(&env_name).or_else(|| def.default.clone()) {
            Some(v) => {
                values.insert(name.clone(), v);
            }
            None => missing.push(format!("{name} (set {env_name})")),
        }
    }
    if missing.is_empty() {
        Ok(values)
    } else {
        Err(format!("required variables have no value: {}", missing.join(", ")))
    }
}

/// Resolves the `[component.<id>.variables]` templates of one component.
pub fn resolve_component_variables(
    component: &str,
    templates: &BTreeMap<String, String>,
    app: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, String> {
    templates
        .iter()
        .map(|(name, tpl)| {
            resolve_template(tpl, app)
                .map(|v| (name.clone(), v))
                .map_err(|e| format!("component {component:?} variable {name:?}: {e}"))
        })
        .collect()
}

/// What `get(name)` answers for a component with the given resolved variables.
pub fn lookup(component: &str, vars: &BTreeMap<String, String>, name: &str) -> Result<String, variables::Error> {
    validate_name(name).map_err(variables::Error::InvalidName)?;
    vars.get(name)
        .cloned()
        .ok_or_else(|| variables::Error::Undefined(format!("no variable for {component:?}.{name:?}")))
}

impl variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, variables::Error>> {
        Ok(lookup(&self.component.id, &self.component.variables, &name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_validation_table() {
        for ok in ["a", "jwt_issuer", "db2", "a_b_c1"] {
            assert!(validate_name(ok).is_ok(), "{ok:?}");
        }
        for bad in ["", "A", "jwtIssuer", "jwt-issuer", "1abc", "_a", "a_", "a__b", "a.b", "thuế"] {
            assert!(validate_name(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn env_names() {
        assert_eq!(env_var_name("jwt_issuer"), "SPIN_VARIABLE_JWT_ISSUER");
        assert_eq!(env_var_name("db2"), "SPIN_VARIABLE_DB2");
    }

    #[test]
    fn templates() {
        let app: BTreeMap<String, String> = [("host", "id.example.vn"), ("port", "8443"), ("empty", "")]
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .into();
        let table: &[(&str, Result<&str, &str>)] = &[
            ("{{ host }}", Ok("id.example.vn")),
            ("{{host}}", Ok("id.example.vn")),
            ("https://{{ host }}:{{ port }}/jwks", Ok("https://id.example.vn:8443/jwks")),
            ("literal only", Ok("literal only")),
            ("", Ok("")),
            ("x{{ empty }}y", Ok("xy")),
            ("Xin chào {{ host }}", Ok("Xin chào id.example.vn")),
            ("{{ nope }}", Err("not an application variable")),
            ("{{ host", Err("unmatched")),
            ("{{ Host }}", Err("invalid variable name")),
        ];
        for (tpl, want) in table {
            let got = resolve_template(tpl, &app);
            match (want, &got) {
                (Ok(w), Ok(g)) => assert_eq!(g, w, "{tpl:?}"),
                (Err(w), Err(g)) => assert!(g.contains(w), "{tpl:?}: {g:?} lacks {w:?}"),
                _ => panic!("{tpl:?}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn app_variables_from_env_then_default() {
        let defs: BTreeMap<String, VariableDef> = [
            ("jwt_issuer", VariableDef { default: Some("https://default".into()), ..Default::default() }),
            ("jwt_secret", VariableDef { required: true, secret: true, ..Default::default() }),
            ("empty_ok", VariableDef { default: Some("d".into()), ..Default::default() }),
        ]
        .map(|(k, v)| (k.to_owned(), v))
        .into();
        let env = |k: &str| match k {
            "SPIN_VARIABLE_JWT_SECRET" => Some("s3cret".to_owned()),
            "SPIN_VARIABLE_EMPTY_OK" => Some(String::new()),
            _ => None,
        };
        let values = resolve_app_variables(&defs, env).expect("resolves");
        assert_eq!(values["jwt_issuer"], "https://default");
        assert_eq!(values["jwt_secret"], "s3cret");
        assert_eq!(values["empty_ok"], "", "a set but empty env var wins over the default, as in Spin");

        let err = resolve_app_variables(&defs, |_| None).expect_err("secret missing");
        assert!(err.contains("jwt_secret (set SPIN_VARIABLE_JWT_SECRET)"), "{err}");
    }

    #[test]
    fn component_lookup() {
        let app: BTreeMap<String, String> = [("issuer".to_owned(), "iss".to_owned())].into();
        let templates: BTreeMap<String, String> =
            [("jwt_issuer".to_owned(), "{{ issuer }}".to_owned()), ("greeting".to_owned(), "chào".to_owned())].into();
        let vars = resolve_component_variables("c", &templates, &app).expect("resolves");
        assert_eq!(lookup("c", &vars, "jwt_issuer").ok().as_deref(), Some("iss"));
        assert_eq!(lookup("c", &vars, "greeting").ok().as_deref(), Some("chào"));
        assert!(matches!(lookup("c", &vars, "issuer"), Err(variables::Error::Undefined(_))));
        assert!(matches!(lookup("c", &vars, "Bad-Name"), Err(variables::Error::InvalidName(_))));
        let bad: BTreeMap<String, String> = [("x".to_owned(), "{{ missing }}".to_owned())].into();
        assert!(resolve_component_variables("c", &bad, &app).is_err());
    }
}
