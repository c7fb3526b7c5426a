//! Variable resolution as Spin's default provider does it: the
//! `SPIN_VARIABLE_<NAME>` environment variable, then a `.env` file, then the
//! manifest default. Required variables with no value stop startup.

use crate::manifest::VariableDecl;
use crate::template::Template;
use anyhow::{anyhow, bail, Result};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Spin's rule for variable names: lower-case letters, digits and single
/// underscores, starting with a letter and not ending with an underscore.
pub fn validate_name(name: &str) -> Result<()> {
    let Some(first) = name.chars().next() else {
        bail!("{name:?}: must not be empty");
    };
    if let Some(c) = name.chars().find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_')) {
        bail!("{name:?}: invalid character {c:?}. Variable names may contain only lower-case letters, numbers, and underscores.");
    }
    if !first.is_ascii_lowercase() {
        bail!("{name:?}: must start with a lowercase ASCII letter");
    }
    if name.ends_with('_') {
        bail!("{name:?}: must end with a lowercase ASCII letter or digit");
    }
    if name.contains("__") {
        bail!("{name:?}: must not contain multiple consecutive underscores");
    }
    if let Some(first) = name.split('_').filter_map(|word| word.chars().next()).find(|c| !c.is_ascii_alphabetic()) {
        bail!("{name:?}: '_'-separated words must start with an ASCII letter; got {first:?}");
    }
    Ok(())
}

/// The environment the provider reads: `SPIN_VARIABLE_*` values, plus the
/// `.env` file's entries as a fallback.
#[derive(Debug, Default, Clone)]
pub struct EnvProvider {
    env: HashMap<String, String>,
    dotenv: HashMap<String, String>,
}

impl EnvProvider {
    pub fn new(env: HashMap<String, String>) -> EnvProvider {
        EnvProvider { env, dotenv: HashMap::new() }
    }

    /// The process environment, and `.env` in `dir` if there is one.
    pub fn from_process(dir: &Path) -> Result<EnvProvider> {
        let mut provider = EnvProvider::new(std::env::vars().collect());
        provider.dotenv = read_dotenv(&dir.join(".env"))?;
        Ok(provider)
    }

    pub fn with_dotenv(mut self, entries: HashMap<String, String>) -> EnvProvider {
        self.dotenv = entries;
        self
    }

    /// Sets a variable as `spin up --variable name=value` does (it wins over
    /// the environment).
    pub fn set_variable(&mut self, name: &str, value: &str) {
        self.env.insert(format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase()), value.to_owned());
    }

    pub fn get(&self, name: &str) -> Option<&String> {
        let key = format!("SPIN_VARIABLE_{}", name.to_ascii_uppercase());
        self.env.get(&key).or_else(|| self.dotenv.get(&key))
    }
}

/// Reads a `.env` file with `dotenvy`; a missing file is empty.
pub fn read_dotenv(path: &Path) -> Result<HashMap<String, String>> {
    match dotenvy::from_path_iter(path) {
        Ok(iter) => iter
            .map(|item| item.map_err(|e| anyhow!("cannot parse {}: {e}", path.display())))
            .collect(),
        Err(e) if e.not_found() => Ok(HashMap::new()),
        Err(e) => Err(anyhow!("cannot read {}: {e}", path.display())),
    }
}

/// Application variables with their resolved values, fixed at startup, and
/// what it takes to resolve them again as Spin does per instance.
#[derive(Debug, Clone)]
pub struct Resolver {
    values: HashMap<String, Option<String>>,
    defaults: HashMap<String, Option<String>>,
    provider: EnvProvider,
}

impl Resolver {
    /// Resolves every declared variable; fails as `spin up` does when a
    /// required one has no value.
    pub fn new(decls: &BTreeMap<String, VariableDecl>, provider: &EnvProvider) -> Result<Resolver> {
        let defaults = decls.iter().map(|(name, decl)| (name.clone(), decl.default.clone())).collect();
        let mut resolver = Resolver { values: HashMap::new(), defaults, provider: provider.clone() };
        let values: HashMap<String, Option<String>> =
            resolver.names().map(|name| (name.to_owned(), resolver.resolve(name).flatten())).collect();
        let mut missing: Vec<&String> = values.iter().filter(|(_, v)| v.is_none()).map(|(k, _)| k).collect();
        if !missing.is_empty() {
            missing.sort();
            let keys: Vec<String> = missing.iter().map(|k| format!("Key({k:?})")).collect();
            bail!(
                "provider error: no provider resolved required variable(s): [{}] (set SPIN_VARIABLE_{} or add it to .env)",
                keys.join(", "),
                missing[0].to_ascii_uppercase()
            );
        }
        resolver.values = values;
        Ok(resolver)
    }

    /// The provider's value, else the default: `None` for an undeclared
    /// variable, `Some(None)` for a declared one with no value.
    fn resolve(&self, name: &str) -> Option<Option<String>> {
        let default = self.defaults.get(name)?;
        Some(self.provider.get(name).cloned().or_else(|| default.clone()))
    }

    fn value_or_error(name: &str, value: Option<Option<String>>) -> Result<String> {
        match value {
            Some(Some(value)) => Ok(value),
            Some(None) => bail!("no provider resolved required variable {name:?}"),
            None => bail!("invalid variable template: unknown variable {name:?}"),
        }
    }

    /// The declared application variables' names.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.defaults.keys().map(String::as_str)
    }

    /// Resolves one application variable through the provider, then its
    /// default, as Spin does on every lookup (the values at startup are
    /// what the host checked; this is the per-instance work).
    pub fn lookup(&self, name: &str) -> Result<String> {
        Self::value_or_error(name, self.resolve(name))
    }

    /// The value of an application variable, as resolved at startup.
    pub fn app_value(&self, name: &str) -> Result<String> {
        Self::value_or_error(name, self.values.get(name).cloned())
    }

    /// Renders a template against the application variables.
    pub fn render(&self, template: &str) -> Result<String> {
        Template::parse(template)?.render(|name| self.app_value(name))
    }
}

/// Why a guest's `variables::get` failed, mirroring the WIT error variants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GetError {
    InvalidName(String),
    Undefined(String),
    Provider(String),
    Other(String),
}

/// One component's view of the variables: only the keys its manifest
/// section lists, each rendered from its template.
#[derive(Debug, Clone)]
pub struct ComponentVariables {
    component: String,
    values: HashMap<String, Result<String, GetError>>,
    templates: HashMap<String, Template>,
}

impl ComponentVariables {
    pub fn new(component: &str, templates: &BTreeMap<String, String>, resolver: &Resolver) -> Self {
        let mut values = HashMap::new();
        let mut parsed = HashMap::new();
        for (key, text) in templates {
            let value = Template::parse(text).and_then(|template| {
                let value = template.render(|name| resolver.app_value(name));
                parsed.insert(key.clone(), template);
                value
            });
            values.insert(key.clone(), value.map_err(|e| GetError::Provider(e.to_string())));
        }
        ComponentVariables { component: component.to_owned(), values, templates: parsed }
    }

    /// The value resolved at startup.
    pub fn get(&self, key: &str) -> Result<String, GetError> {
        self.defined(key)?;
        self.values[key].clone()
    }

    /// The value resolved anew, each variable its template names looked up
    /// through `lookup` (Spin's per-call work).
    pub fn resolve(&self, key: &str, mut lookup: impl FnMut(&str) -> Result<String>) -> Result<String, GetError> {
        self.defined(key)?;
        let Some(template) = self.templates.get(key) else {
            return self.values[key].clone();
        };
        template.render(|name| lookup(name)).map_err(|e| GetError::Provider(e.to_string()))
    }

    fn defined(&self, key: &str) -> Result<(), GetError> {
        validate_name(key).map_err(|e| GetError::InvalidName(e.to_string()))?;
        match self.values.get(key) {
            Some(_) => Ok(()),
            None if self.values.is_empty() => {
                Err(GetError::Undefined(format!("no variable for component {:?}", self.component)))
            }
            None => Err(GetError::Undefined(format!("no variable for {:?}.{:?}", self.component, key))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decls() -> BTreeMap<String, VariableDecl> {
        let required = VariableDecl { default: None, required: true, secret: true, description: None };
        let with_default =
            VariableDecl { default: Some("auth-events".into()), required: false, secret: false, description: None };
        BTreeMap::from([("secret_key".into(), required), ("rabbitmq_queue".into(), with_default)])
    }

    fn env(pairs: &[(&str, &str)]) -> EnvProvider {
        EnvProvider::new(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn environment_beats_dotenv_which_beats_the_default() {
        let dotenv = HashMap::from([
            ("SPIN_VARIABLE_SECRET_KEY".to_string(), "from-dotenv".to_string()),
            ("SPIN_VARIABLE_RABBITMQ_QUEUE".to_string(), "dotenv-queue".to_string()),
        ]);
        let provider = env(&[("SPIN_VARIABLE_SECRET_KEY", "from-env")]).with_dotenv(dotenv);
        let r = Resolver::new(&decls(), &provider).unwrap();
        assert_eq!(r.app_value("secret_key").unwrap(), "from-env");
        assert_eq!(r.app_value("rabbitmq_queue").unwrap(), "dotenv-queue");
        let r = Resolver::new(&decls(), &env(&[("SPIN_VARIABLE_SECRET_KEY", "k")])).unwrap();
        assert_eq!(r.app_value("rabbitmq_queue").unwrap(), "auth-events");
    }

    #[test]
    fn missing_required_variable_stops_startup_with_its_name() {
        let err = Resolver::new(&decls(), &env(&[])).unwrap_err().to_string();
        assert!(err.contains("no provider resolved required variable(s): [Key(\"secret_key\")]"), "{err}");
        assert!(err.contains("SPIN_VARIABLE_SECRET_KEY"), "{err}");
    }

    #[test]
    fn component_sees_only_its_own_keys() {
        let r = Resolver::new(&decls(), &env(&[("SPIN_VARIABLE_SECRET_KEY", "k")])).unwrap();
        let templates = BTreeMap::from([("queue".to_string(), "q-{{ rabbitmq_queue }}".to_string())]);
        let vars = ComponentVariables::new("auth", &templates, &r);
        assert_eq!(vars.get("queue").unwrap(), "q-auth-events");
        assert_eq!(vars.get("secret_key"), Err(GetError::Undefined("no variable for \"auth\".\"secret_key\"".into())));
        assert!(matches!(vars.get("Bad-Name"), Err(GetError::InvalidName(_))));
        let resolved = vars.resolve("queue", |name| r.lookup(name)).unwrap();
        assert_eq!(resolved, "q-auth-events");
        assert!(matches!(vars.resolve("secret_key", |name| r.lookup(name)), Err(GetError::Undefined(_))));
        let none = ComponentVariables::new("auth", &BTreeMap::new(), &r);
        assert_eq!(none.get("queue"), Err(GetError::Undefined("no variable for component \"auth\"".into())));
    }

    #[test]
    fn variable_names_follow_spin_rules() {
        for ok in ["a", "database_url", "x1_y2", "bench_extra_v0"] {
            assert!(validate_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "1a", "_a", "a_", "a__b", "A", "a-b", "bench_extra_0", "a_1b"] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dotenv_lines_are_parsed_like_dotenvy() {
        let dir = std::env::temp_dir().join(format!("dotenv-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(".env");
        std::fs::write(&path, "# comment\nSPIN_VARIABLE_A=1\nexport SPIN_VARIABLE_B=\"two words\"\n\nSPIN_VARIABLE_C='x=y'\n").unwrap();
        let entries = read_dotenv(&path).unwrap();
        assert_eq!(entries["SPIN_VARIABLE_A"], "1");
        assert_eq!(entries["SPIN_VARIABLE_B"], "two words");
        assert_eq!(entries["SPIN_VARIABLE_C"], "x=y");
        assert!(read_dotenv(&dir.join("missing")).unwrap().is_empty());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
