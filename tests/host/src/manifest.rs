//! The parts of a Spin manifest (`spin.toml`, version 2) the test host
//! understands, parsed and validated as Spin's loader does.

use crate::template::Template;
use crate::variables::validate_name;
use anyhow::{bail, Context, Result};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Deserialize)]
pub struct Manifest {
    pub spin_manifest_version: u32,
    pub application: Application,
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDecl>,
    #[serde(default)]
    pub trigger: Triggers,
    #[serde(default)]
    pub component: BTreeMap<String, ComponentDecl>,
}

#[derive(Debug, Deserialize)]
pub struct Application {
    pub name: String,
    #[serde(default)]
    pub trigger: AppTriggers,
}

#[derive(Debug, Default, Deserialize)]
pub struct AppTriggers {
    pub http: Option<AppHttpTrigger>,
}

#[derive(Debug, Deserialize)]
pub struct AppHttpTrigger {
    pub base: Option<String>,
}

/// An application variable: `{ default = "...", required = true, secret = true }`.
#[derive(Debug, Clone, Deserialize)]
pub struct VariableDecl {
    pub default: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub secret: bool,
    pub description: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Triggers {
    #[serde(default)]
    pub http: Vec<HttpTrigger>,
}

#[derive(Debug, Deserialize)]
pub struct HttpTrigger {
    pub route: RouteDecl,
    pub component: String,
}

/// A route is a pattern, or `{ private = true }` (reachable only by service chaining).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteDecl {
    Pattern(String),
    Private { private: bool },
}

#[derive(Debug, Deserialize)]
pub struct ComponentDecl {
    pub source: String,
    pub description: Option<String>,
    #[serde(default)]
    pub allowed_outbound_hosts: Vec<String>,
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub build: Option<BuildDecl>,
    #[serde(default)]
    pub dependencies: BTreeMap<String, toml::Value>,
    #[serde(default)]
    pub dependencies_inherit_configuration: bool,
    /// Labels of the SQLite databases the component may open.
    #[serde(default)]
    pub sqlite_databases: Vec<String>,
}

impl ComponentDecl {
    /// Whether every dependency inherits this component's configuration:
    /// `dependencies_inherit_configuration = true`, or `inherit_configuration
    /// = true` on each dependency.
    pub fn dependencies_inherit(&self) -> bool {
        self.dependencies_inherit_configuration
            || (!self.dependencies.is_empty()
                && self
                    .dependencies
                    .values()
                    .all(|d| d.get("inherit_configuration").and_then(toml::Value::as_bool) == Some(true)))
    }
}

#[derive(Debug, Deserialize)]
pub struct BuildDecl {
    pub command: String,
    pub workdir: Option<String>,
    #[serde(default)]
    pub watch: Vec<String>,
}

/// A loaded manifest and the directory its relative paths start from.
#[derive(Debug)]
pub struct LoadedManifest {
    pub manifest: Manifest,
    pub dir: PathBuf,
}

impl LoadedManifest {
    pub fn load(path: &Path) -> Result<LoadedManifest> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read manifest {}", path.display()))?;
        let manifest = Manifest::parse(&text)
            .with_context(|| format!("invalid manifest {}", path.display()))?;
        Ok(LoadedManifest { manifest, dir: base_dir(path) })
    }

    /// A component's `.wasm`, relative to the manifest's directory.
    pub fn source_path(&self, component: &ComponentDecl) -> PathBuf {
        self.dir.join(&component.source)
    }
}

/// The directory a manifest's relative paths start from: its parent, or `.`
/// for a bare file name (whose parent is the empty path).
pub fn base_dir(manifest_path: &Path) -> PathBuf {
    manifest_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

impl Manifest {
    pub fn parse(text: &str) -> Result<Manifest> {
        let manifest: Manifest = toml::from_str(text)?;
        manifest.validate()?;
        Ok(manifest)
    }

    fn validate(&self) -> Result<()> {
        if self.spin_manifest_version != 2 {
            bail!("spin_manifest_version must be 2, found {}", self.spin_manifest_version);
        }
        if let Some(base) = self.application.trigger.http.as_ref().and_then(|h| h.base.as_deref()) {
            if base != "/" {
                bail!("This application is using the deprecated trigger 'base' field. The base must be prepended to each [[trigger.http]]'s 'route'.");
            }
        }
        for (name, decl) in &self.variables {
            validate_name(name).with_context(|| format!("invalid variable name {name:?}"))?;
            if decl.required == decl.default.is_some() {
                bail!("variable {name:?}: must be `required` OR have a `default`");
            }
        }
        for (id, component) in &self.component {
            for (key, template) in &component.variables {
                validate_name(key)
                    .with_context(|| format!("component {id:?}: invalid variable name {key:?}"))?;
                self.check_template(template)
                    .with_context(|| format!("component {id:?}: variable {key:?}"))?;
            }
            if component.dependencies_inherit_configuration
                && component.dependencies.values().any(|d| d.get("inherit_configuration").is_some())
            {
                bail!("Component `{id}` specifies both `dependencies_inherit_configuration` and per-dependency `inherit_configuration`. These are mutually exclusive; use one or the other.");
            }
            if let Some(bad) = component.sqlite_databases.iter().find(|l| !is_kebab_or_snake_case(l)) {
                bail!("component {id:?}: sqlite_databases entry {bad:?}: expected kebab-case or snake_case");
            }
            for host in &component.allowed_outbound_hosts {
                self.check_template(host)
                    .with_context(|| format!("component {id:?}: allowed_outbound_hosts entry {host:?}"))?;
            }
        }
        for trigger in &self.trigger.http {
            if !self.component.contains_key(&trigger.component) {
                bail!("trigger for route {:?} names unknown component {:?}", trigger.route, trigger.component);
            }
            if let RouteDecl::Private { private: false } = trigger.route {
                bail!("route must be a string pattern or '{{ private = true }}': '{}' has {{ private = false }}", trigger.component);
            }
        }
        Ok(())
    }

    /// A template may refer only to declared application variables.
    fn check_template(&self, text: &str) -> Result<()> {
        let template = Template::parse(text)?;
        for var in template.variables() {
            if !self.variables.contains_key(var) {
                bail!("invalid variable template: unknown variable {var:?}");
            }
        }
        Ok(())
    }
}

/// Spin's rule for store and database labels: words of lower-case letters
/// and digits, starting with a letter, joined by single `-` or single `_`.
pub fn is_kebab_or_snake_case(label: &str) -> bool {
    let words = |sep: char| {
        label.split(sep).all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
            && label.starts_with(|c: char| c.is_ascii_lowercase())
    };
    words('-') || words('_')
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
spin_manifest_version = 2
[application]
name = "app"
[variables]
database_url = { required = true, secret = true }
database_host = { default = "127.0.0.1" }
[[trigger.http]]
route = "/auth/..."
component = "auth"
[component.auth]
source = "target/auth.wasm"
allowed_outbound_hosts = ["postgres://{{ database_host }}"]
[component.auth.variables]
database_url = "{{ database_url }}"
[component.auth.build]
command = "cargo build"
watch = ["src/**/*.rs"]
"#;

    #[test]
    fn relative_paths_start_at_the_manifest_directory() {
        let dir = std::env::temp_dir().join(format!("manifest-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("spin.toml"), MINIMAL).unwrap();
        let loaded = LoadedManifest::load(&dir.join("spin.toml")).unwrap();
        assert_eq!(loaded.source_path(&loaded.manifest.component["auth"]), dir.join("target/auth.wasm"));
        std::fs::remove_dir_all(&dir).unwrap();
        // A bare file name means the current directory, never an empty path.
        assert_eq!(base_dir(Path::new("spin.toml")), PathBuf::from("."));
    }

    #[test]
    fn parses_variables_triggers_and_components() {
        let m = Manifest::parse(MINIMAL).unwrap();
        assert!(m.variables["database_url"].required);
        assert!(m.variables["database_url"].secret);
        assert_eq!(m.variables["database_host"].default.as_deref(), Some("127.0.0.1"));
        assert_eq!(m.trigger.http.len(), 1);
        let auth = &m.component["auth"];
        assert_eq!(auth.allowed_outbound_hosts, ["postgres://{{ database_host }}"]);
        assert_eq!(auth.build.as_ref().unwrap().watch, ["src/**/*.rs"]);
    }

    #[test]
    fn dependency_inheritance_follows_spin_rules() {
        // `component_flag` goes in [component.auth]; `dependency` is the
        // inline table of the one dependency.
        let manifest = |component_flag: &str, dependency: &str| {
            let hosts = "allowed_outbound_hosts = [\"postgres://{{ database_host }}\"]";
            format!(
                "{}\n[component.auth.dependencies]\n\"a:b/c\" = {dependency}\n",
                MINIMAL.replace(hosts, &format!("{hosts}\n{component_flag}"))
            )
        };
        let inherits = |flag: &str, dep: &str| Manifest::parse(&manifest(flag, dep)).unwrap().component["auth"].dependencies_inherit();
        assert!(inherits("dependencies_inherit_configuration = true", "{ path = \"d.wasm\" }"));
        assert!(!inherits("", "{ path = \"d.wasm\" }"));
        assert!(inherits("", "{ path = \"d.wasm\", inherit_configuration = true }"));
        let both = manifest("dependencies_inherit_configuration = true", "{ path = \"d.wasm\", inherit_configuration = true }");
        let err = format!("{:#}", Manifest::parse(&both).unwrap_err());
        assert!(err.contains("mutually exclusive"), "{err}");
    }

    #[test]
    fn variable_must_be_required_or_have_a_default() {
        let text = MINIMAL.replace("database_host = { default = \"127.0.0.1\" }", "database_host = { }");
        let err = format!("{:#}", Manifest::parse(&text).unwrap_err());
        assert!(err.contains("must be `required` OR have a `default`"), "{err}");
    }

    #[test]
    fn templates_must_name_declared_variables() {
        let text = MINIMAL.replace("{{ database_host }}", "{{ db_host }}");
        let err = format!("{:#}", Manifest::parse(&text).unwrap_err());
        assert!(err.contains("unknown variable \"db_host\""), "{err}");
    }

    #[test]
    fn sqlite_labels_must_be_kebab_or_snake_case() {
        let with = |labels: &str| MINIMAL.replace("source = \"target/auth.wasm\"", &format!("source = \"x.wasm\"\nsqlite_databases = {labels}"));
        let m = Manifest::parse(&with("[\"default\", \"my-db\", \"my_db2\"]")).unwrap();
        assert_eq!(m.component["auth"].sqlite_databases, ["default", "my-db", "my_db2"]);
        for bad in ["\"My-Db\"", "\"a--b\"", "\"-a\"", "\"a-b_c\"", "\"1db\"", "\"\""] {
            let err = format!("{:#}", Manifest::parse(&with(&format!("[{bad}]"))).unwrap_err());
            assert!(err.contains("expected kebab-case or snake_case"), "{bad}: {err}");
        }
        assert!(Manifest::parse(MINIMAL).unwrap().component["auth"].sqlite_databases.is_empty());
    }

    #[test]
    fn trigger_must_name_a_component() {
        let text = MINIMAL.replace("component = \"auth\"", "component = \"nope\"");
        assert!(Manifest::parse(&text).is_err());
    }

    #[test]
    fn only_version_2_and_base_slash_are_accepted() {
        assert!(Manifest::parse(&MINIMAL.replace("= 2", "= 1")).is_err());
        let with_base = MINIMAL.replace("name = \"app\"", "name = \"app\"\ntrigger.http.base = \"/api\"");
        let err = format!("{:#}", Manifest::parse(&with_base).unwrap_err());
        assert!(err.contains("deprecated trigger 'base'"), "{err}");
    }
}
