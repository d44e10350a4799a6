//! HTTP route matching, the way Spin's HTTP trigger matches `[[trigger.http]] route`s.
//!
//! A route is exact (`/food-safety/health`) or ends in a wildcard (`/food-safety/...`, also
//! spelled `/food-safety/*`); `:name` segments match one path segment and are captured.
//! Route and path are compared segment by segment after trimming their leading and trailing
//! slashes (so `/a` also serves `/a/`, and `/a/...` serves `/a`, `/a/`, `/a/b`). When several
//! routes match, the most specific wins, as in Spin (routefinder): position by position a
//! literal segment beats a `:param`, which beats the wildcard; a route that is a prefix of
//! another is preferred (`/a` before `/a/...`); remaining ties go to the route listed first.
//! The same route listed twice is served by the later component, with a warning.
//!
//! The match also yields what Spin passes to the component in its `spin-*` headers: the
//! trailing part matched by the wildcard (`spin-path-info`, keeping a trailing slash as Spin
//! does), the route as written and without its `/...` suffix, and the named captures.

use std::cmp::Ordering;
use std::fmt;

/// One segment of a route pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Param(String),
}

impl Segment {
    /// Specificity rank used for best-match ordering (wildcard = 0).
    fn rank(&self) -> u8 {
        match self {
            Segment::Literal(_) => 2,
            Segment::Param(_) => 1,
        }
    }
}

/// A parsed route: its segments and whether it ends in a wildcard.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Pattern {
    segments: Vec<Segment>,
    wildcard: bool,
}

/// One routable entry: a route of the manifest and the component that serves it.
#[derive(Debug, Clone)]
struct Entry {
    component: String,
    /// The route as written in the manifest.
    raw: String,
    /// The route normalised as Spin does (leading slash added, one trailing slash removed).
    based: String,
    /// The route without its wildcard suffix (for display).
    prefix: String,
    pattern: Pattern,
}

/// The routing table of an application.
#[derive(Debug, Clone, Default)]
pub struct Router {
    entries: Vec<Entry>,
}

/// A route that was listed twice: the later component serves it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuplicateRoute {
    pub route: String,
    pub replaced: String,
    pub effective: String,
}

/// The result of routing a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteMatch<'r> {
    /// The component that serves the request.
    pub component: &'r str,
    /// The route as written in the manifest (`spin-raw-component-route`).
    pub raw_route: &'r str,
    /// The normalised route (`spin-matched-route`).
    pub based_route: &'r str,
    /// What the trailing wildcard matched, `""` for exact routes (`spin-path-info`).
    pub path_info: String,
    /// `:name` captures, in route order (`spin-path-match-<name>`).
    pub named: Vec<(String, String)>,
}

impl<'r> RouteMatch<'r> {
    /// The match Spin makes up for a chained request (`RouteMatch::synthetic` in its
    /// `crates/routes`): `component` serves it, as if the whole `path` had matched a `/...`
    /// route, so `spin-path-info` is the path, `spin-matched-route` and
    /// `spin-raw-component-route` are `/...` and `spin-component-route` is empty.
    pub fn synthetic(component: &'r str, path: String) -> RouteMatch<'r> {
        RouteMatch { component, raw_route: "/...", based_route: "/...", path_info: path, named: Vec::new() }
    }

    /// The route without its trailing `/...` (`spin-component-route`).
    pub fn component_route(&self) -> &str {
        self.raw_route.strip_suffix("/...").unwrap_or(self.raw_route)
    }
}

/// A route pattern Spin would refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteError(pub String);

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RouteError {}

/// Adds the leading slash and drops one trailing slash, as Spin does with the `/` base.
fn normalise(raw: &str) -> String {
    let abs = if raw.starts_with('/') { raw.to_owned() } else { format!("/{raw}") };
    match abs.strip_suffix('/') {
        Some(s) => s.to_owned(),
        None => abs,
    }
}

fn parse_pattern(based: &str) -> Result<(Pattern, String), String> {
    let (prefix, wildcard) = if let Some(p) = based.strip_suffix("/...") {
        (p, true)
    } else if let Some(p) = based.strip_suffix("/*") {
        (p, true)
    } else if based == "*" || based == "..." {
        ("", true)
    } else {
        (based, false)
    };
    let mut segments = Vec::new();
    for section in prefix.trim_matches('/').split('/').filter(|s| !s.is_empty()) {
        if section.contains('*') || section == "..." {
            return Err(format!("a wildcard may only end a route: {section:?}"));
        }
        match section.strip_prefix(':') {
            Some("") => return Err("route parameters must be named (`:name`)".into()),
            Some(name) => segments.push(Segment::Param(name.to_owned())),
            None => segments.push(Segment::Literal(section.to_owned())),
        }
    }
    Ok((Pattern { segments, wildcard }, prefix.to_owned()))
}

impl Pattern {
    /// Matches a path; returns the wildcard capture (if a wildcard route) and named captures.
    fn matches<'p>(&self, path: &'p str) -> Option<(Option<&'p str>, Vec<&'p str>)> {
        let mut rest = path.trim_start_matches('/').trim_end_matches('/');
        let mut captures = Vec::new();
        for (i, seg) in self.segments.iter().enumerate() {
            if i > 0 {
                rest = rest.strip_prefix('/')?;
            }
            match seg {
                Segment::Literal(lit) => {
                    rest = rest.strip_prefix(lit.as_str())?;
                    if !(rest.is_empty() || rest.starts_with('/')) {
                        return None;
                    }
                }
                Segment::Param(_) => {
                    let end = rest.find('/').unwrap_or(rest.len());
                    if end == 0 {
                        return None;
                    }
                    captures.push(&rest[..end]);
                    rest = &rest[end..];
                }
            }
        }
        if self.wildcard {
            if !self.segments.is_empty() && !rest.is_empty() {
                rest = rest.strip_prefix('/')?;
            }
            Some((Some(rest), captures))
        } else if rest.is_empty() {
            Some((None, captures))
        } else {
            None
        }
    }

    /// `Greater` when `self` is more specific than `other`.
    fn specificity(&self, other: &Pattern) -> Ordering {
        let ranks = |p: &Pattern| -> Vec<u8> {
            let mut r: Vec<u8> = p.segments.iter().map(Segment::rank).collect();
            if p.wildcard {
                r.push(0);
            }
            r
        };
        let (mine, theirs) = (ranks(self), ranks(other));
        for (a, b) in mine.iter().zip(&theirs) {
            match a.cmp(b) {
                Ordering::Equal => {}
                decided => return decided,
            }
        }
        // One is a prefix of the other: the shorter route is the more specific.
        theirs.len().cmp(&mine.len())
    }
}

impl Router {
    /// Builds the router from `(route, component)` pairs in manifest order.
    pub fn build<'a>(
        routes: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<(Router, Vec<DuplicateRoute>), RouteError> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut duplicates = Vec::new();
        for (raw, component) in routes {
            let based = normalise(raw);
            let (pattern, prefix) = parse_pattern(&based)
                .map_err(|e| RouteError(format!("route {raw:?} of component {component:?}: {e}")))?;
            let entry = Entry { component: component.to_owned(), raw: raw.to_owned(), based, prefix, pattern };
            if let Some(existing) = entries.iter_mut().find(|e| e.raw == raw) {
                duplicates.push(DuplicateRoute {
                    route: raw.to_owned(),
                    replaced: existing.component.clone(),
                    effective: component.to_owned(),
                });
                *existing = entry;
            } else {
                entries.push(entry);
            }
        }
        Ok((Router { entries }, duplicates))
    }

    /// Finds the component for a request path (without the query).
    pub fn route(&self, path: &str) -> Option<RouteMatch<'_>> {
        let mut best: Option<(&Entry, Option<&str>, Vec<&str>)> = None;
        for entry in &self.entries {
            let Some((wild, caps)) = entry.pattern.matches(path) else {
                continue;
            };
            let better = match &best {
                None => true,
                Some((b, _, _)) => entry.pattern.specificity(&b.pattern) == Ordering::Greater,
            };
            if better {
                best = Some((entry, wild, caps));
            }
        }
        let (entry, wild, caps) = best?;
        let path_info = match wild {
            None => String::new(),
            Some(w) => match (w.is_empty(), path.ends_with('/')) {
                (true, false) => String::new(),
                (true, true) => "/".to_owned(),
                (false, false) => format!("/{w}"),
                (false, true) => format!("/{w}/"),
            },
        };
        let named = entry
            .pattern
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Param(n) => Some(n.clone()),
                Segment::Literal(_) => None,
            })
            .zip(caps.into_iter().map(str::to_owned))
            .collect();
        Some(RouteMatch {
            component: &entry.component,
            raw_route: &entry.raw,
            based_route: &entry.based,
            path_info,
            named,
        })
    }

    /// The routes for display, in manifest order: `(component, route)` where the route is
    /// shown as Spin lists it (`/x`, or `/x (wildcard)`).
    pub fn describe(&self) -> Vec<(String, String)> {
        self.entries
            .iter()
            .map(|e| {
                let shown = if e.pattern.wildcard { format!("{} (wildcard)", e.prefix) } else { e.based.clone() };
                (e.component.clone(), shown)
            })
            .collect()
    }

    /// Each wildcard route (`/reports/...`) as its component and its prefix without the
    /// wildcard (`/reports`), in manifest order.
    pub fn wildcard_prefixes(&self) -> Vec<(String, String)> {
        self.entries.iter().filter(|e| e.pattern.wildcard).map(|e| (e.component.clone(), e.prefix.clone())).collect()
    }

    /// Number of routes.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no route is served.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::build(routes.iter().copied()).expect("routes build").0
    }

    #[test]
    fn synthetic_matches_are_spins() {
        let m = RouteMatch::synthetic("food-safety", "/food-safety/command".to_owned());
        assert_eq!(m.component, "food-safety");
        assert_eq!(m.path_info, "/food-safety/command");
        assert_eq!((m.raw_route, m.based_route, m.component_route()), ("/...", "/...", ""));
        assert!(m.named.is_empty());
    }

    #[test]
    fn matching_table() {
        let r = router(&[
            ("/food-safety/...", "food"),
            ("/food-safety/health", "food-health"),
            ("/reports", "reports-exact"),
            ("/reports/...", "reports"),
            ("/reports/:id/rating", "rating"),
            ("/one/...", "one"),
            ("/one/two/...", "onetwo"),
            ("/one/two/three/...", "onetwothree"),
            ("/permits/:code", "permit"),
            ("/permits/sms", "permit-sms"),
            ("/", "root"),
        ]);
        // (path, component, path-info)
        let table: &[(&str, Option<&str>, &str)] = &[
            ("/food-safety/health", Some("food-health"), ""),
            ("/food-safety/health/", Some("food-health"), ""),
            ("/food-safety/establishments", Some("food"), "/establishments"),
            ("/food-safety/establishments/", Some("food"), "/establishments/"),
            ("/food-safety/a/b/c", Some("food"), "/a/b/c"),
            ("/food-safety", Some("food"), ""),
            ("/food-safety/", Some("food"), "/"),
            ("/food-safetyx", None, ""),
            ("/food", None, ""),
            ("/reports", Some("reports-exact"), ""),
            ("/reports/", Some("reports-exact"), ""),
            ("/reports/R1", Some("reports"), "/R1"),
            ("/reports/R1/rating", Some("rating"), ""),
            ("/reports/R1/rating/x", Some("reports"), "/R1/rating/x"),
            ("/one/two/three/four", Some("onetwothree"), "/four"),
            ("/one/two/x", Some("onetwo"), "/x"),
            ("/one/x", Some("one"), "/x"),
            ("/permits/sms", Some("permit-sms"), ""),
            ("/permits/HS-001", Some("permit"), ""),
            ("/permits/HS-001/x", None, ""),
            ("/permits", None, ""),
            ("/", Some("root"), ""),
            ("", Some("root"), ""),
            ("/unknown", None, ""),
        ];
        for (path, want, info) in table {
            let m = r.route(path);
            assert_eq!(m.as_ref().map(|m| m.component), *want, "component for {path:?}");
            if let Some(m) = m {
                assert_eq!(m.path_info, *info, "path info for {path:?}");
            }
        }
    }

    #[test]
    fn most_specific_wins_regardless_of_order() {
        for routes in [
            vec![("/one/...", "one"), ("/one/two/...", "two"), ("/...", "all"), ("/one", "exact")],
            vec![("/one", "exact"), ("/...", "all"), ("/one/two/...", "two"), ("/one/...", "one")],
        ] {
            let r = router(&routes);
            assert_eq!(r.route("/one").map(|m| m.component), Some("exact"));
            assert_eq!(r.route("/one/two/x").map(|m| m.component), Some("two"));
            assert_eq!(r.route("/one/x").map(|m| m.component), Some("one"));
            assert_eq!(r.route("/x").map(|m| m.component), Some("all"));
            assert_eq!(r.route("/").map(|m| m.component), Some("all"));
        }
    }

    #[test]
    fn catch_all_path_info() {
        let r = router(&[("/...", "all")]);
        for (path, info) in [("/", "/"), ("/1/2/3", "/1/2/3"), ("/abc/", "/abc/"), ("", "")] {
            assert_eq!(r.route(path).map(|m| m.path_info), Some(info.to_owned()), "{path:?}");
        }
    }

    #[test]
    fn spin_header_values() {
        let r = router(&[("/food-safety/...", "food"), ("/x/:id/y", "x")]);
        let m = r.route("/food-safety/health").expect("matches");
        assert_eq!(m.raw_route, "/food-safety/...");
        assert_eq!(m.based_route, "/food-safety/...");
        assert_eq!(m.component_route(), "/food-safety");
        assert_eq!(m.path_info, "/health");
        let m = r.route("/x/42/y").expect("matches");
        assert_eq!(m.named, vec![("id".to_owned(), "42".to_owned())]);
        assert_eq!(m.component_route(), "/x/:id/y");
    }

    #[test]
    fn normalisation_and_display() {
        let (r, dups) =
            Router::build([("foo/", "a"), ("/bar/*", "b"), ("/...", "c"), ("/bar/*", "d")]).expect("builds");
        assert_eq!(dups, vec![DuplicateRoute { route: "/bar/*".into(), replaced: "b".into(), effective: "d".into() }]);
        assert_eq!(r.route("/foo").map(|m| (m.component, m.based_route)), Some(("a", "/foo")));
        assert_eq!(r.route("/bar/baz").map(|m| m.component), Some("d"));
        assert_eq!(
            r.describe(),
            vec![
                ("a".to_owned(), "/foo".to_owned()),
                ("d".to_owned(), "/bar (wildcard)".to_owned()),
                ("c".to_owned(), " (wildcard)".to_owned()),
            ]
        );
        assert_eq!(r.len(), 3);
    }

    #[test]
    fn refuses_bad_routes() {
        for bad in ["/a/*/b", "/a/:/b", "/a/.../b", "/x*"] {
            assert!(Router::build([(bad, "c")]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn ties_go_to_the_first_route() {
        let r = router(&[("/:a", "first"), ("/:b", "second")]);
        assert_eq!(r.route("/x").map(|m| m.component), Some("first"));
    }
}
