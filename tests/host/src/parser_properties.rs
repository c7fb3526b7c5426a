//! Property tests (proptest) on the parsers of what an app hands the host:
//! the manifest, `{{ }}` templates, variable names, allowed-host entries,
//! routes and the runtime configuration. Whatever the text, a value or an
//! error, never a panic; templates render back what they were made of.

use crate::allowed_hosts::AllowedHost;
use crate::manifest::Manifest;
use crate::routes::Router;
use crate::runtime_config::RuntimeConfig;
use crate::template::Template;
use crate::variables::validate_name;
use proptest::prelude::*;

/// Manifest-like TOML: the real manifest with one value replaced by
/// arbitrary text, or arbitrary text outright.
fn manifest_text() -> impl Strategy<Value = String> {
    let real = include_str!("../../../spin.toml");
    prop_oneof![
        ".{0,300}",
        (any::<prop::sample::Index>(), "[ -~\n]{0,40}").prop_map(move |(at, insert)| {
            let i = at.index(real.len());
            let i = (0..=i).rev().find(|&i| real.is_char_boundary(i)).unwrap_or(0);
            format!("{}{}{}", &real[..i], insert, &real[i..])
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1_000, ..ProptestConfig::default() })]

    #[test]
    fn manifests_parse_or_are_refused(text in manifest_text()) {
        let _ = Manifest::parse(&text);
    }

    #[test]
    fn runtime_configs_parse_or_are_refused(text in prop_oneof![".{0,200}", "(\\[sqlite_database\\.[a-z]{1,6}\\]\ntype = \"(spin|libsql|x)\"\n(path|url) = \"[ -~]{0,20}\"\n){0,3}"]) {
        let _ = RuntimeConfig::parse(&text);
    }

    /// A template of literal text and `{{ name }}` references renders to the
    /// text with each reference replaced by its value.
    #[test]
    fn templates_render_what_they_were_made_of(parts in prop::collection::vec(prop_oneof![
        "[^{}]{0,12}".prop_map(|s| (s, false)),
        "[a-z][a-z0-9_]{0,10}".prop_map(|s| (s, true)),
    ], 0..6)) {
        let text: String = parts.iter().map(|(s, var)| if *var { format!("{{{{ {s} }}}}") } else { s.clone() }).collect();
        let expected: String = parts.iter().map(|(s, var)| if *var { format!("<{s}>") } else { s.clone() }).collect();
        let template = Template::parse(&text).unwrap();
        prop_assert_eq!(template.render(|name| Ok(format!("<{name}>"))).unwrap(), expected);
    }

    #[test]
    fn arbitrary_templates_parse_or_are_refused(text in "[a-z{} ]{0,40}") {
        if let Ok(template) = Template::parse(&text) {
            let _ = template.render(|name| Ok(name.to_owned()));
        }
    }

    /// Variable names follow Spin's rule exactly.
    #[test]
    fn variable_names_follow_spins_rule(name in "[a-z0-9_A-Z-]{0,20}") {
        let spin_accepts = !name.is_empty()
            && name.split('_').all(|w| w.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        prop_assert_eq!(validate_name(&name).is_ok(), spin_accepts, "{}", name);
    }

    #[test]
    fn allowed_host_entries_parse_or_are_refused(entry in prop_oneof![
        ".{0,60}",
        "(postgres|tcp|https?|\\*|mysql|redis)://(\\*|[a-z0-9.-]{0,20}|\\[[0-9a-f:]{0,20}\\])(:([0-9]{0,6}|\\*|[0-9]{1,5}-[0-9]{1,5}))?/?",
    ]) {
        if let Ok(host) = AllowedHost::parse(&entry) {
            let _ = host.allows("tcp", "127.0.0.1", Some(5672));
        }
    }

    #[test]
    fn routes_parse_or_are_refused_and_route_any_path(route in "/[a-z:./]{0,20}", path in "/[ -~]{0,30}") {
        let mut router = Router::default();
        if router.add(&route, "c").is_ok() {
            let _ = router.route(&path);
        }
    }
}
