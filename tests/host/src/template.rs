//! Spin's `{{ name }}` templates, as used in component variables and
//! `allowed_outbound_hosts`.

use anyhow::{bail, Result};

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Literal(String),
    Variable(String),
}

/// A parsed template: literal text and variable references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template(Vec<Part>);

impl Template {
    pub fn parse(text: &str) -> Result<Template> {
        let mut parts = Vec::new();
        let mut rest = text;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                parts.push(Part::Literal(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let Some(end) = after.find("}}") else {
                bail!("invalid variable template {text:?}: unclosed `{{{{`");
            };
            let name = after[..end].trim();
            if name.is_empty() {
                bail!("invalid variable template {text:?}: empty variable reference");
            }
            parts.push(Part::Variable(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            parts.push(Part::Literal(rest.to_owned()));
        }
        Ok(Template(parts))
    }

    /// Names of the variables the template refers to.
    pub fn variables(&self) -> impl Iterator<Item = &str> {
        self.0.iter().filter_map(|p| match p {
            Part::Variable(name) => Some(name.as_str()),
            Part::Literal(_) => None,
        })
    }

    pub fn is_literal(&self) -> bool {
        self.variables().next().is_none()
    }

    /// Fills the template; `lookup` returns a variable's value or an error.
    pub fn render(&self, mut lookup: impl FnMut(&str) -> Result<String>) -> Result<String> {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Literal(text) => out.push_str(text),
                Part::Variable(name) => out.push_str(&lookup(name)?),
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_variables_between_literals() {
        let t = Template::parse("postgres://{{ database_host }}:{{database_port}}").unwrap();
        assert_eq!(t.variables().collect::<Vec<_>>(), ["database_host", "database_port"]);
        let out = t
            .render(|name| Ok(if name == "database_host" { "db".into() } else { "5432".into() }))
            .unwrap();
        assert_eq!(out, "postgres://db:5432");
    }

    #[test]
    fn literal_template_has_no_variables() {
        let t = Template::parse("tcp://127.0.0.1:5672").unwrap();
        assert!(t.is_literal());
        assert_eq!(t.render(|_| unreachable!()).unwrap(), "tcp://127.0.0.1:5672");
    }

    #[test]
    fn unclosed_or_empty_references_are_errors() {
        assert!(Template::parse("x {{ name").is_err());
        assert!(Template::parse("x {{  }}").is_err());
    }
}
