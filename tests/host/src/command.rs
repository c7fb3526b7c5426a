//! Runs a `wasi:cli` command component with the host's stdio and nothing
//! else (no network, no files), with the engine settings used for the app:
//! the micro-benchmarks time the component's own code this way.

use anyhow::{anyhow, Context, Result};
use std::path::Path;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::Store;
use wasmtime_wasi::p2::bindings::Command;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

struct CommandState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for CommandState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

pub async fn run(path: &Path) -> Result<()> {
    let engine = crate::runtime::shared_engine()?;
    let component = Component::from_file(&engine, path)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("cannot load {}", path.display()))?;
    let mut linker: Linker<CommandState> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    let wasi = WasiCtxBuilder::new().inherit_stdout().inherit_stderr().build();
    let mut store = Store::new(&engine, CommandState { wasi, table: ResourceTable::new() });
    let command = Command::instantiate_async(&mut store, &component, &linker).await?;
    command.wasi_cli_run().call_run(&mut store).await?.map_err(|()| anyhow!("the command failed"))
}
