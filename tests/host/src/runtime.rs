//! Loads a Spin app and runs its HTTP components: one engine, each component
//! pre-instantiated once, a fresh store per request. A request may chain to
//! another component of the app (`chaining`).

use crate::allowed_hosts::{log_denied, AllowedHosts};
use crate::chaining::{self, OutboundHttp};
use crate::compose::{compose, dependency_path};
use crate::bindings::fermyon::spin2_0_0::variables as spin_variables;
use crate::manifest::{LoadedManifest, RouteDecl};
use crate::postgres::PgPools;
use crate::profile::{blocking, LookupCounter, Profile, StoreLimits};
use crate::runtime_config::{RuntimeConfig, StateDir};
use crate::sqlite::{SqliteAccess, SqliteInstance};
use crate::routes::{spin_headers, RouteMatch, Router};
use crate::variables::{ComponentVariables, EnvProvider, GetError, Resolver};
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};
use std::time::SystemTime;
use std::sync::Arc;
use wasmtime::component::{Component, HasSelf, Linker, ResourceTable};
use wasmtime::{Engine, Store};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};
use wasmtime_wasi_http::p2::bindings::http::types::{ErrorCode, Scheme};
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::body::HyperOutgoingBody;
use wasmtime_wasi_http::p2::{WasiHttpCtxView, WasiHttpView};
use wasmtime_wasi_http::WasiHttpCtx;

/// What one component may reach and read, shared by all its requests.
pub struct ComponentEnv {
    pub id: String,
    pub variables: ComponentVariables,
    pub allowed_hosts: AllowedHosts,
    pub pg: PgPools,
    /// The SQLite labels it may open, and the app's databases.
    pub sqlite: SqliteAccess,
    /// The component has dependencies that do not inherit its
    /// configuration. Spin then denies them every capability; the test host
    /// cannot tell a dependency's socket from the component's own within
    /// one store, so it denies every socket of such a component.
    pub dependencies_isolated: bool,
    /// How requests are served (see `profile`).
    pub profile: Profile,
    /// The application's variables, for the `Spin` profile's per-instance
    /// resolution.
    pub resolver: Arc<Resolver>,
    /// Provider lookups made for this component's requests.
    pub lookups: LookupCounter,
}

impl ComponentEnv {
    /// What Spin does before an instance's first outbound connection is
    /// checked: resolve every application variable through the provider
    /// (`ExpressionResolver::prepare`), once per instance. Only in the
    /// `Spin` profile; the others resolved them at startup.
    pub async fn before_outbound(&self, prepared: &tokio::sync::OnceCell<()>) {
        if self.profile != Profile::Spin {
            return;
        }
        prepared
            .get_or_init(|| async {
                for name in self.resolver.names() {
                    // The values are the ones checked at startup; this is the cost.
                    let _ = self.lookup(name);
                }
            })
            .await;
    }

    fn lookup(&self, name: &str) -> anyhow::Result<String> {
        self.lookups.add();
        blocking(|| self.resolver.lookup(name))
    }
}

/// The data of one request's store.
pub struct RequestState {
    wasi: WasiCtx,
    http: WasiHttpCtx,
    pub table: ResourceTable,
    pub component: Arc<ComponentEnv>,
    pub sqlite: SqliteInstance,
    /// Spin's per-store limiter (`Spin` profile).
    pub limits: StoreLimits,
    /// Set once the instance has resolved its variables for outbound checks.
    pub prepared: Arc<tokio::sync::OnceCell<()>>,
    /// Its outbound HTTP: service chaining.
    outbound: OutboundHttp,
}

impl WasiView for RequestState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl WasiHttpView for RequestState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView { ctx: &mut self.http, table: &mut self.table, hooks: &mut self.outbound }
    }
}

impl spin_variables::Host for RequestState {
    async fn get(&mut self, name: String) -> wasmtime::Result<Result<String, spin_variables::Error>> {
        let variables = &self.component.variables;
        let value = match self.component.profile {
            Profile::Fast => variables.get(&name),
            Profile::Spin => variables.resolve(&name, |app_variable| self.component.lookup(app_variable)),
        };
        Ok(value.map_err(|e| match e {
            GetError::InvalidName(m) => spin_variables::Error::InvalidName(m),
            GetError::Undefined(m) => spin_variables::Error::Undefined(m),
            GetError::Provider(m) => spin_variables::Error::Provider(m),
            GetError::Other(m) => spin_variables::Error::Other(m),
        }))
    }
}

/// Where guest stdout/stderr go.
#[derive(Clone, Default)]
pub enum GuestOutput {
    /// The host's own stdout/stderr, as `spin up` prints them.
    #[default]
    Inherit,
    /// One buffer shared by every request (tests print it on failure).
    Capture(MemoryOutputPipe),
}

/// How to run an app: where variables come from, where guest output goes,
/// and where its state lives (`--runtime-config-file`, `--state-dir`).
#[derive(Default)]
pub struct HostOptions {
    pub env: EnvProvider,
    pub output: GuestOutput,
    pub runtime_config: Option<PathBuf>,
    pub state_dir: StateDir,
    pub profile: Profile,
}

struct HttpComponent {
    env: Arc<ComponentEnv>,
    pre: ProxyPre<RequestState>,
}

/// A loaded application, ready to serve requests.
pub struct App {
    dispatch: Arc<Dispatch>,
}

/// What serves a request, routed or chained; each request's instance holds
/// it, to chain to the app's other components.
pub struct Dispatch {
    router: Router,
    components: HashMap<String, HttpComponent>,
    output: GuestOutput,
}

/// The client address Spin gives a chained request.
const CHAINED_CLIENT_ADDR: SocketAddr = SocketAddr::new(std::net::IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0);

/// The `Fast` profile's engine.
pub fn shared_engine() -> Result<Engine> {
    engine_for(Profile::Fast)
}

/// One engine per profile and process, so compiled components can be shared.
pub fn engine_for(profile: Profile) -> Result<Engine> {
    static ENGINES: OnceLock<Mutex<HashMap<Profile, Engine>>> = OnceLock::new();
    let mut engines = ENGINES.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(engine) = engines.get(&profile) {
        return Ok(engine.clone());
    }
    let engine = Engine::new(&profile.engine_config())?;
    profile.start_engine_threads(&engine);
    engines.insert(profile, engine.clone());
    Ok(engine)
}

type CacheKey = (Profile, Vec<(PathBuf, u64, SystemTime)>);

/// Compiles a component, composed with its dependencies, once per process
/// (per file paths, sizes and mtimes): every test loads the same `.wasm`
/// files, and composing and compiling them is the slow part.
fn compile(profile: Profile, root: &Path, dependencies: &[(String, PathBuf)]) -> Result<Component> {
    static CACHE: OnceLock<Mutex<HashMap<CacheKey, Component>>> = OnceLock::new();
    let engine = &engine_for(profile)?;
    let mut key: CacheKey = (profile, Vec::new());
    for path in std::iter::once(root).chain(dependencies.iter().map(|(_, p)| p.as_path())) {
        let meta = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?;
        key.1.push((path.to_path_buf(), meta.len(), meta.modified()?));
    }
    let cache = CACHE.get_or_init(Default::default);
    if let Some(component) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
        return Ok(component.clone());
    }
    let mut bytes = std::fs::read(root).with_context(|| format!("cannot read {}", root.display()))?;
    if !dependencies.is_empty() {
        let deps = dependencies
            .iter()
            .map(|(name, path)| Ok((name.clone(), std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?)))
            .collect::<Result<Vec<_>>>()?;
        bytes = compose(&bytes, &deps)?;
    }
    let component = Component::from_binary(engine, &bytes).map_err(anyhow::Error::from)?;
    cache.lock().unwrap_or_else(|e| e.into_inner()).insert(key, component.clone());
    Ok(component)
}

/// A manifest's component, composed with its dependencies and compiled.
fn compiled_component(profile: Profile, loaded: &LoadedManifest, id: &str) -> Result<Component> {
    let decl = loaded.manifest.component.get(id).with_context(|| format!("no component {id:?} in the manifest"))?;
    let dependencies = decl
        .dependencies
        .iter()
        .map(|(name, value)| Ok((name.clone(), dependency_path(name, value, &loaded.dir)?)))
        .collect::<Result<Vec<_>>>()
        .with_context(|| format!("component {id:?}"))?;
    let path = loaded.source_path(decl);
    compile(profile, &path, &dependencies).with_context(|| format!("component {id:?}: cannot load {}", path.display()))
}

/// One component of a manifest, ready to link, for benchmarks that bring
/// their own host.
pub fn load_component(manifest_path: &Path, id: &str) -> Result<Component> {
    compiled_component(Profile::Fast, &LoadedManifest::load(manifest_path)?, id)
}

impl App {
    /// Loads `spin.toml`, resolves variables (failing like `spin up` on a
    /// missing required one), compiles and pre-instantiates each component.
    pub fn load(manifest_path: &Path, options: HostOptions) -> Result<App> {
        let loaded = LoadedManifest::load(manifest_path)?;
        let manifest = &loaded.manifest;
        let resolver = Resolver::new(&manifest.variables, &options.env)?;
        let runtime_config = RuntimeConfig::load(options.runtime_config.as_deref())?;
        let state_dir = runtime_config.state_dir(&options.state_dir, &loaded.dir)?;
        let databases = Arc::new(runtime_config.sqlite_databases(state_dir.as_deref())?);
        databases.ensure_configured(manifest.component.iter().map(|(id, c)| (id.as_str(), c.sqlite_databases.as_slice())))?;
        let profile = options.profile;
        let engine = engine_for(profile)?;
        let resolver = Arc::new(resolver);
        let mut linker: Linker<RequestState> = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
        crate::bindings::spin::postgres4_0_0::postgres::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        crate::bindings::spin::sqlite::sqlite::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
        spin_variables::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;

        let mut router = Router::default();
        let mut components = HashMap::new();
        for trigger in &manifest.trigger.http {
            if let RouteDecl::Pattern(route) = &trigger.route {
                router.add(route, &trigger.component)?;
            }
            if components.contains_key(&trigger.component) {
                continue;
            }
            let id = trigger.component.clone();
            let decl = &manifest.component[&id];
            let hosts: Vec<String> = decl
                .allowed_outbound_hosts
                .iter()
                .map(|h| resolver.render(h))
                .collect::<Result<_>>()
                .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
            let allowed_hosts = AllowedHosts::parse(hosts.iter().map(String::as_str))
                .with_context(|| format!("component {id:?}: allowed_outbound_hosts"))?;
            let env = Arc::new(ComponentEnv {
                id: id.clone(),
                variables: ComponentVariables::new(&id, &decl.variables, &resolver),
                allowed_hosts,
                pg: PgPools::default(),
                sqlite: SqliteAccess {
                    allowed: decl.sqlite_databases.iter().cloned().collect(),
                    databases: databases.clone(),
                    warm: profile == Profile::Fast,
                },
                dependencies_isolated: !decl.dependencies.is_empty() && !decl.dependencies_inherit(),
                profile,
                resolver: resolver.clone(),
                lookups: LookupCounter::default(),
            });
            let component = compiled_component(profile, &loaded, &id)?;
            let pre = ProxyPre::new(linker.instantiate_pre(&component)?)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("component {id:?}: not a wasi:http/incoming-handler component"))?;
            components.insert(id, HttpComponent { env, pre });
        }
        Ok(App { dispatch: Arc::new(Dispatch { router, components, output: options.output }) })
    }

    /// Provider lookups made so far for every component's requests (the
    /// `Spin` profile's per-instance variable work).
    pub fn provider_lookups(&self) -> u64 {
        self.dispatch.components.values().map(|c| c.env.lookups.get()).sum()
    }

    /// Serves one request: routes it, adds Spin's headers, runs the component
    /// in a fresh store and returns its response as soon as the guest sets it
    /// (the guest may go on working after that, as in Spin).
    pub async fn handle<B>(
        &self,
        req: hyper::Request<B>,
        client_addr: SocketAddr,
    ) -> Result<hyper::Response<HyperOutgoingBody>>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<ErrorCode>,
    {
        // The guest's remaining work runs on detached; it reports its own trap.
        let (response, _guest) = self.handle_detached(req, client_addr).await?;
        Ok(response)
    }

    /// Like [`App::handle`], but hands back the guest's remaining work (what
    /// it does after sending its response) for the caller to await, so that
    /// benchmarks can time both.
    pub async fn handle_detached<B>(
        &self,
        mut req: hyper::Request<B>,
        client_addr: SocketAddr,
    ) -> Result<(hyper::Response<HyperOutgoingBody>, Option<tokio::task::JoinHandle<()>>)>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<ErrorCode>,
    {
        // Spin drops a client's `Host: *.spin.internal`, which only chaining sets.
        let chaining_host =
            req.headers().get(hyper::header::HOST).and_then(|h| h.to_str().ok()).is_some_and(|h| chaining::target(h).is_some());
        if chaining_host {
            req.headers_mut().remove(hyper::header::HOST);
        }
        let Some(matched) = self.dispatch.router.route(req.uri().path()) else {
            return Ok((empty_response(404), None));
        };
        self.dispatch.serve(req, matched, client_addr).await
    }
}

impl Dispatch {
    /// A request chained to `component`: routed as Spin routes it, with its
    /// `Host`, from Spin's chained client address.
    pub async fn chained(
        self: &Arc<Self>,
        mut req: hyper::Request<HyperOutgoingBody>,
        component: &str,
    ) -> Result<hyper::Response<HyperOutgoingBody>> {
        let matched = RouteMatch::synthetic(component, req.uri().path());
        req.headers_mut().insert(hyper::header::HOST, format!("{component}.spin.internal").parse()?);
        let (response, _guest) = self.serve(req, matched, CHAINED_CLIENT_ADDR).await?;
        Ok(response)
    }

    fn wasi_ctx(&self, env: &Arc<ComponentEnv>, prepared: &Arc<tokio::sync::OnceCell<()>>) -> WasiCtx {
        let mut builder = WasiCtxBuilder::new();
        match &self.output {
            GuestOutput::Inherit => builder.inherit_stdout().inherit_stderr(),
            GuestOutput::Capture(pipe) => builder.stdout(pipe.clone()).stderr(pipe.clone()),
        };
        // Spin checks socket connects by IP against `tcp://` (or `udp://`)
        // entries, never allows binding, and offers no DNS.
        let check_env = env.clone();
        let prepared = prepared.clone();
        builder.allow_ip_name_lookup(false).socket_addr_check(move |addr, use_| {
            use wasmtime_wasi::sockets::SocketAddrUse;
            let scheme = match use_ {
                SocketAddrUse::TcpBind | SocketAddrUse::UdpBind => return Box::pin(async { false }) as _,
                SocketAddrUse::TcpConnect => "tcp",
                SocketAddrUse::UdpConnect | SocketAddrUse::UdpOutgoingDatagram => "udp",
            };
            let allowed = !check_env.dependencies_isolated
                && check_env.allowed_hosts.allows(scheme, &addr.ip().to_string(), Some(addr.port()));
            if !allowed {
                if check_env.dependencies_isolated {
                    eprintln!(
                        "component {}: its dependencies do not inherit its configuration \
                         (dependencies_inherit_configuration is not set), so they may not open sockets",
                        check_env.id
                    );
                }
                log_denied(&check_env.id, scheme, &addr.to_string());
            }
            let (env, prepared) = (check_env.clone(), prepared.clone());
            Box::pin(async move {
                env.before_outbound(&prepared).await;
                allowed
            })
        });
        builder.build()
    }

    /// Runs a routed request's component in a fresh store and returns its
    /// response as soon as the guest sets it, with the guest's remaining work.
    /// Like Spin's `handle_trigger_route`, it fails (the connection closes
    /// unanswered) for a destination that is no component and for a request
    /// without an authority, such as one whose `Host` named a chained
    /// component.
    async fn serve<B>(
        self: &Arc<Self>,
        mut req: hyper::Request<B>,
        matched: RouteMatch,
        client_addr: SocketAddr,
    ) -> Result<(hyper::Response<HyperOutgoingBody>, Option<tokio::task::JoinHandle<()>>)>
    where
        B: hyper::body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<ErrorCode>,
    {
        let component = self
            .components
            .get(&matched.component)
            .with_context(|| format!("unknown routing destination '{}'", matched.component))?;
        let host = match (req.headers().get(hyper::header::HOST), req.uri().authority()) {
            (Some(host), _) => host.to_str().context("'Host' header is not valid UTF-8")?.to_owned(),
            (None, Some(authority)) => authority.to_string(),
            (None, None) => anyhow::bail!("no 'Host' header present in request"),
        };
        let path_and_query = req.uri().path_and_query().map_or("/", |p| p.as_str()).to_owned();
        let full_url = format!("http://{host}{path_and_query}");
        for (name, value) in spin_headers(&matched, &full_url, &client_addr.to_string()) {
            let name = hyper::header::HeaderName::from_bytes(name.as_bytes())?;
            req.headers_mut().append(name, value.parse()?);
        }
        // Give the guest an absolute URI, as a server does.
        if req.uri().authority().is_none() {
            *req.uri_mut() = format!("http://{host}{path_and_query}").parse()?;
        }

        let prepared = Arc::new(tokio::sync::OnceCell::new());
        let state = RequestState {
            wasi: self.wasi_ctx(&component.env, &prepared),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            component: component.env.clone(),
            sqlite: SqliteInstance::default(),
            limits: StoreLimits::default(),
            outbound: OutboundHttp { dispatch: self.clone(), env: component.env.clone(), prepared: prepared.clone() },
            prepared,
        };
        let mut store = Store::new(component.pre.engine(), state);
        component.env.profile.configure_store(&mut store);
        let (sender, receiver) = tokio::sync::oneshot::channel();
        let incoming = store.data_mut().http().new_incoming_request(Scheme::Http, req)?;
        let outparam = store.data_mut().http().new_response_outparam(sender)?;
        let pre = component.pre.clone();
        let id = component.env.id.clone();
        let task = tokio::task::spawn(async move {
            let proxy = pre.instantiate_async(&mut store).await?;
            proxy.wasi_http_incoming_handler().call_handle(&mut store, incoming, outparam).await
        });
        match receiver.await {
            Ok(Ok(response)) => {
                let guest = tokio::spawn(async move {
                    if let Ok(Err(e)) = task.await {
                        eprintln!("Error processing request after the response (component {id}): {e:?}");
                    }
                });
                Ok((response, Some(guest)))
            }
            Ok(Err(code)) => {
                eprintln!("Error processing request (component {id}): guest answered with error {code:?}");
                Ok((empty_response(500), None))
            }
            Err(_) => {
                match task.await {
                    Ok(Ok(())) => eprintln!("Error processing request (component {id}): guest never invoked `response-outparam::set`"),
                    Ok(Err(e)) => eprintln!("Error processing request (component {id}): {e:?}"),
                    Err(e) => eprintln!("Error processing request (component {id}): {e:?}"),
                }
                Ok((empty_response(500), None))
            }
        }
    }
}


/// Spin answers an unrouted path (404) or a failed guest (500) with no body.
fn empty_response(status: u16) -> hyper::Response<HyperOutgoingBody> {
    let body = Empty::<Bytes>::new().map_err(|never| match never {}).boxed_unsync();
    let mut response = hyper::Response::new(body);
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    response
}
