//! Component dependencies, composed at load time as Spin does: each
//! dependency's exports satisfy the root component's imports of the same name
//! (or a semver-compatible one), and the result is one component.

use anyhow::{bail, Context, Result};
use std::path::{Path, PathBuf};
use wac_graph::types::Package;
use wac_graph::{plug, CompositionGraph, EncodeOptions, PlugError};

/// Where a `[component.X.dependencies]` entry's component comes from. Only
/// local `path` dependencies are supported by the test host.
pub fn dependency_path(name: &str, value: &toml::Value, base: &Path) -> Result<PathBuf> {
    match value.get("path").and_then(toml::Value::as_str) {
        Some(path) => Ok(base.join(path)),
        None => bail!("dependency {name:?}: only `{{ path = \"...\" }}` dependencies are supported by the test host"),
    }
}

/// The root component with every dependency plugged into its imports.
pub fn compose(root: &[u8], dependencies: &[(String, Vec<u8>)]) -> Result<Vec<u8>> {
    let mut graph = CompositionGraph::new();
    let root = Package::from_bytes("root", None, root.to_vec(), graph.types_mut()).context("parsing the root component")?;
    let root = graph.register_package(root)?;
    let mut plugs = Vec::new();
    for (index, (name, bytes)) in dependencies.iter().enumerate() {
        let package = Package::from_bytes(&format!("dependency{index}"), None, bytes.clone(), graph.types_mut())
            .with_context(|| format!("parsing dependency {name:?}"))?;
        plugs.push(graph.register_package(package)?);
    }
    match plug(&mut graph, plugs, root) {
        Ok(()) => {}
        Err(PlugError::NoPlugHappened) => bail!("no dependency matches any import of the component"),
        Err(e) => return Err(anyhow::Error::new(e).context("composing dependencies")),
    }
    graph.encode(EncodeOptions::default()).context("encoding the composed component")
}
