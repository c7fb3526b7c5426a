//! `spin-test-host`: `spin build` and `spin up` for this project where Spin
//! is not installed.
//!
//! ```text
//! spin-test-host build [-f spin.toml]
//! spin-test-host up [-f spin.toml] [--listen 127.0.0.1:3000] [--build] [--variable name=value]...
//!                   [--runtime-config-file runtime-config.toml] [--state-dir DIR] [--profile fast|spin]
//! spin-test-host run program.wasm    (a wasi:cli command, for the micro-benchmarks)
//! ```

use anyhow::{bail, Context, Result};
use spin_test_host::manifest::{base_dir, LoadedManifest};
use spin_test_host::variables::EnvProvider;
use spin_test_host::{server, App, HostOptions, Profile, StateDir};
use std::path::{Path, PathBuf};
use std::sync::Arc;

struct Args {
    command: String,
    manifest: PathBuf,
    listen: String,
    build: bool,
    variables: Vec<(String, String)>,
    runtime_config: Option<PathBuf>,
    state_dir: StateDir,
    profile: Profile,
}

fn parse_args() -> Result<Args> {
    let mut args = Args {
        command: "up".into(),
        manifest: PathBuf::from("spin.toml"),
        listen: "127.0.0.1:3000".into(),
        build: false,
        variables: Vec::new(),
        runtime_config: None,
        state_dir: StateDir::Default,
        profile: Profile::from_env()?,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "up" | "build" => args.command = arg,
            "run" => {
                args.command = arg;
                args.manifest = it.next().context("run needs a .wasm command component")?.into();
            }
            "-f" | "--from" => args.manifest = it.next().context("--from needs a path")?.into(),
            "--listen" => args.listen = it.next().context("--listen needs an address")?,
            "--build" => args.build = true,
            "--variable" => {
                let pair = it.next().context("--variable needs name=value")?;
                let (name, value) = pair.split_once('=').context("--variable needs name=value")?;
                args.variables.push((name.to_owned(), value.to_owned()));
            }
            "--runtime-config-file" => {
                args.runtime_config = Some(it.next().context("--runtime-config-file needs a path")?.into());
            }
            "--state-dir" => args.state_dir = StateDir::from_flag(&it.next().context("--state-dir needs a path (\"\" unsets it)")?),
            "--profile" => args.profile = Profile::parse(&it.next().context("--profile needs fast or spin")?)?,
            "-h" | "--help" => {
                println!(
                    "usage: spin-test-host [build|up] [-f spin.toml] [--listen ADDR] [--build] [--variable name=value]... \
                     [--runtime-config-file FILE] [--state-dir DIR] [--profile fast|spin]\n\
                     --profile spin (or SPIN_TEST_HOST_PROFILE=spin) instantiates and resolves variables as Spin 4.0.2 does"
                );
                std::process::exit(0);
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    Ok(args)
}

/// Runs each component's `[component.X.build] command`, as `spin build` does.
fn build(manifest_path: &Path) -> Result<()> {
    let loaded = LoadedManifest::load(manifest_path)?;
    for (id, component) in &loaded.manifest.component {
        let Some(build) = &component.build else { continue };
        let dir = build.workdir.as_ref().map_or_else(|| loaded.dir.clone(), |w| loaded.dir.join(w));
        println!("Building component {id} with `{}`", build.command);
        let status = std::process::Command::new("sh")
            .arg("-c")
            .arg(&build.command)
            .current_dir(&dir)
            .status()
            .with_context(|| format!("cannot run the build command of {id}"))?;
        if !status.success() {
            bail!("build command for component {id} failed with {status}");
        }
    }
    Ok(())
}

// The host allocates for every request (hyper, WASI's HTTP types, the
// PostgreSQL client): under load glibc's malloc took 8 % of its CPU.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> Result<()> {
    let args = parse_args()?;
    if args.command == "run" {
        return spin_test_host::command::run(&args.manifest).await;
    }
    if args.command == "build" || args.build {
        build(&args.manifest)?;
        if args.command == "build" {
            return Ok(());
        }
    }
    let mut env = EnvProvider::from_process(&base_dir(&args.manifest))?;
    for (name, value) in &args.variables {
        env.set_variable(name, value);
    }
    let options = HostOptions {
        env,
        runtime_config: args.runtime_config,
        state_dir: args.state_dir,
        profile: args.profile,
        ..Default::default()
    };
    let app = App::load(&args.manifest, options)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!("Serving http://{}", listener.local_addr()?);
    server::serve(Arc::new(app), listener).await
}
