//! The live business graph: every configured service's `$metadata` fetched in parallel, parsed,
//! composed and turned into a GraphQL schema, held as one immutable [`Generation`] that a refresh
//! replaces atomically. Requests in flight keep the generation they started with.
//!
//! A service whose `$metadata` cannot be fetched or parsed is reported and left out; its data
//! source serves with the services that loaded (degraded), or not at all when none did. A
//! service that loaded before keeps serving with its last good `$metadata` instead (stale; its
//! source degraded), so that a backend restarting during a refresh does not take its namespace
//! out of the schema.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use axum::http::Method;
use bizgraph_config::graph::Graph as GraphSettings;
use bizgraph_metadata::{Metadata, Severity};
use bizgraph_schema::compose::{CrossAssociation, Finding, Level};
use bizgraph_schema::graphql::{SchemaOptions, build};
use bizgraph_schema::model::{Graph, GraphSize};
use bizgraph_schema::plan::PlanLimits;
use bizgraph_schema::{ServiceInput, SourceInput, compose};
use serde::Serialize;
use tokio::sync::Mutex;

use crate::upstream::{Request, Upstream};

/// One composed graph with its schema and the state of every source.
#[derive(Debug)]
pub struct Generation {
    /// The composed model.
    pub graph: Arc<Graph>,
    /// The GraphQL schema rendered from it.
    pub schema: async_graphql::dynamic::Schema,
    /// State of every configured data source.
    pub sources: Vec<SourceState>,
    /// Composition findings.
    pub findings: Vec<Finding>,
    /// When it was built.
    pub loaded_at: SystemTime,
    /// Planner limits.
    pub limits: PlanLimits,
    /// False for the placeholder served before the first load finished (true from the start
    /// when no data source is configured).
    pub loaded: bool,
}

/// How a data source loaded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceHealth {
    /// Every service loaded.
    Ready,
    /// Some services failed, or serve with the `$metadata` of an earlier load because their
    /// latest fetch failed (stale); the others serve.
    Degraded,
    /// No service loaded; the namespace is missing from the schema.
    Failed,
}

/// A data source's state, as `/readyz` and `bizgraph check` show it.
#[derive(Debug, Clone, Serialize)]
pub struct SourceState {
    /// The namespace.
    pub name: String,
    /// Ready, degraded or failed.
    pub state: SourceHealth,
    /// Each service.
    pub services: Vec<ServiceState>,
}

/// A service's state. Serialized (for `/readyz` and refresh reports) with a `state` of
/// `ready`, `stale` (serving with the `$metadata` of an earlier load, `error` says why the
/// latest fetch failed) or `failed`.
#[derive(Debug, Clone)]
pub struct ServiceState {
    /// The destination.
    pub destination: String,
    /// Service path.
    pub path: String,
    /// The `$metadata` URL when the destination's URL is known.
    pub url: Option<String>,
    /// True when it is in the graph: loaded now, or stale (with `error` set).
    pub ok: bool,
    /// OData version, when loaded.
    pub version: Option<String>,
    /// Why it failed, or for a stale service why its latest fetch failed.
    pub error: Option<String>,
    /// Entity sets it contributed.
    pub entity_sets: usize,
    /// Errors the parser found in a document that still loaded.
    pub metadata_errors: usize,
}

impl ServiceState {
    /// `ready`, `stale` or `failed`.
    pub fn health(&self) -> &'static str {
        match (self.ok, &self.error) {
            (true, None) => "ready",
            (true, Some(_)) => "stale",
            (false, _) => "failed",
        }
    }
}

impl Serialize for ServiceState {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct Report<'a> {
            destination: &'a str,
            path: &'a str,
            #[serde(skip_serializing_if = "Option::is_none")]
            url: Option<&'a str>,
            state: &'static str,
            ok: bool,
            #[serde(skip_serializing_if = "Option::is_none")]
            version: Option<&'a str>,
            #[serde(skip_serializing_if = "Option::is_none")]
            error: Option<&'a str>,
            entity_sets: usize,
            metadata_errors: usize,
        }
        Report {
            destination: &self.destination,
            path: &self.path,
            url: self.url.as_deref(),
            state: self.health(),
            ok: self.ok,
            version: self.version.as_deref(),
            error: self.error.as_deref(),
            entity_sets: self.entity_sets,
            metadata_errors: self.metadata_errors,
        }
        .serialize(serializer)
    }
}

/// The last `$metadata` of a service that fetched and parsed, kept for the loads after it.
#[derive(Debug)]
struct LastGood {
    metadata: Arc<Metadata>,
    version: String,
    metadata_errors: usize,
    loaded_at: SystemTime,
}

/// The last good `$metadata` of every configured service, by data source and service index
/// (the settings do not change while the runtime lives).
type Retained = Vec<Vec<Option<Arc<LastGood>>>>;

impl Generation {
    /// True when every data source is ready.
    pub fn is_ready(&self) -> bool {
        self.sources.iter().all(|s| s.state == SourceHealth::Ready)
    }

    /// Sizes of the graph.
    pub fn size(&self) -> GraphSize {
        self.graph.size()
    }
}

/// The graph currently served, and how to build the next one.
#[derive(Debug)]
pub struct GraphRuntime {
    current: RwLock<Arc<Generation>>,
    settings: GraphSettings,
    /// Serializes refreshes: a caller waits for the running one, then reloads only if no load
    /// started after it asked (see [`GraphRuntime::refresh`]). Holds each service's last good
    /// `$metadata`, which only loads touch.
    refreshing: Mutex<Retained>,
    /// Loads started so far; a refresh notes it when asked, to tell a load that started later.
    loads_started: AtomicU64,
}

impl GraphRuntime {
    /// A runtime serving an empty graph until [`GraphRuntime::refresh`] loads one. Without data
    /// sources the empty graph is the whole graph, so it counts as loaded: `/readyz` must not
    /// wait for a refresh that has nothing to load.
    pub fn new(settings: GraphSettings) -> GraphRuntime {
        let limits = plan_limits(&settings);
        let options = schema_options(&settings);
        let graph = Arc::new(Graph::default());
        let generation = Generation {
            schema: build(graph.clone(), options).expect("the empty schema builds"),
            graph,
            sources: Vec::new(),
            findings: Vec::new(),
            loaded_at: SystemTime::now(),
            limits,
            loaded: settings.data_sources.is_empty(),
        };
        GraphRuntime {
            current: RwLock::new(Arc::new(generation)),
            settings,
            refreshing: Mutex::new(Vec::new()),
            loads_started: AtomicU64::new(0),
        }
    }

    /// The generation to serve a request with.
    pub fn current(&self) -> Arc<Generation> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Fetches every `$metadata` again and swaps the new generation in. Refreshes run one at a
    /// time; a caller that had to wait gets the generation of a load that started after it
    /// asked, when one did (it saw every `$metadata` as it is now), rather than starting yet
    /// another, so that a burst of requests costs at most one load beyond the running one.
    pub async fn refresh(&self, upstream: &Upstream) -> Arc<Generation> {
        let asked = self.loads_started.load(Ordering::SeqCst);
        let mut retained = self.refreshing.lock().await;
        if self.loads_started.load(Ordering::SeqCst) > asked {
            // Started after this call asked and, as the lock is ours now, finished.
            return self.current();
        }
        self.loads_started.fetch_add(1, Ordering::SeqCst);
        let generation = Arc::new(load(&self.settings, upstream, &mut retained).await);
        match self.current.write() {
            Ok(mut guard) => *guard = generation.clone(),
            Err(poisoned) => *poisoned.into_inner() = generation.clone(),
        }
        tracing::info!(
            entities = generation.graph.entities.len(),
            ready = generation.is_ready(),
            "graph refreshed"
        );
        generation
    }

    /// The configured refresh interval, when refreshing periodically.
    pub fn refresh_interval(&self) -> Option<Duration> {
        (self.settings.refresh_interval_seconds > 0)
            .then(|| Duration::from_secs(self.settings.refresh_interval_seconds))
    }
}

/// Fetches, parses and composes everything the settings name. Never fails: what cannot load
/// is reported in the generation's source states.
pub async fn load_generation(settings: &GraphSettings, upstream: &Upstream) -> Generation {
    load(settings, upstream, &mut Vec::new()).await
}

/// [`load_generation`], composing a service whose fetch fails with its `$metadata` in
/// `retained` when there is one (reported stale), and keeping every fresh one there.
async fn load(
    settings: &GraphSettings,
    upstream: &Upstream,
    retained: &mut Retained,
) -> Generation {
    retained.resize_with(settings.data_sources.len(), Vec::new);
    for (kept, source) in retained.iter_mut().zip(&settings.data_sources) {
        kept.resize_with(source.services.len(), || None);
    }
    let timeout = Duration::from_secs(settings.metadata_timeout_seconds.max(1));
    let mut fetches = Vec::new();
    for source in &settings.data_sources {
        for service in &source.services {
            let destination = service
                .metadata_destination
                .clone()
                .unwrap_or_else(|| service.destination.clone());
            let path = format!("{}/$metadata", service.path.trim_end_matches('/'));
            fetches.push(async move {
                let request = Request {
                    method: Method::GET,
                    path,
                    headers: vec![(
                        axum::http::header::ACCEPT,
                        axum::http::HeaderValue::from_static("application/xml"),
                    )],
                    body: Default::default(),
                };
                let answer =
                    tokio::time::timeout(timeout, upstream.send(&destination, None, &request))
                        .await;
                let url = upstream
                    .destination_url(&destination)
                    .await
                    .map(|base| format!("{}{}", base.trim_end_matches('/'), request.path));
                (answer, url)
            });
        }
    }
    let answers = join_all(fetches).await;
    let mut answers = answers.into_iter();
    // Per data source (by index), the services (by index) in the graph with their metadata.
    type Loaded = Vec<(usize, Arc<Metadata>)>;
    let mut loaded: Vec<(usize, Loaded)> = Vec::new();
    let mut states = Vec::new();
    for (source_index, source) in settings.data_sources.iter().enumerate() {
        let mut services = Vec::new();
        let mut ok = Vec::new();
        let mut stale = 0;
        for (service_index, service) in source.services.iter().enumerate() {
            let Some((answer, url)) = answers.next() else {
                break;
            };
            let outcome = match answer {
                Err(_) => Err(format!("no answer within {} s", timeout.as_secs())),
                Ok(Err(error)) => Err(error.to_string()),
                Ok(Ok(response)) if !(200..300).contains(&response.status) => Err(format!(
                    "HTTP {} for $metadata: {}",
                    response.status,
                    crate::oauth::truncate(&String::from_utf8_lossy(&response.body))
                )),
                Ok(Ok(response)) => bizgraph_metadata::parse(&response.body)
                    .map_err(|error| format!("$metadata does not parse: {error}")),
            };
            let mut state = ServiceState {
                destination: service.destination.clone(),
                path: service.path.clone(),
                url,
                ok: false,
                version: None,
                error: None,
                entity_sets: 0,
                metadata_errors: 0,
            };
            let kept = &mut retained[source_index][service_index];
            match outcome {
                Ok(parsed) => {
                    state.ok = true;
                    state.version = Some(parsed.metadata.version.to_string());
                    state.metadata_errors = parsed
                        .diagnostics
                        .iter()
                        .filter(|d| d.severity == Severity::Error)
                        .count();
                    let metadata = Arc::new(parsed.metadata);
                    *kept = Some(Arc::new(LastGood {
                        metadata: metadata.clone(),
                        version: state.version.clone().unwrap_or_default(),
                        metadata_errors: state.metadata_errors,
                        loaded_at: SystemTime::now(),
                    }));
                    ok.push((service_index, metadata));
                }
                Err(error) if kept.is_some() => {
                    let last = kept.as_ref().expect("checked above");
                    tracing::warn!(
                        source = %source.name,
                        destination = %service.destination,
                        path = %service.path,
                        error = %error,
                        "service serves its last good metadata"
                    );
                    state.ok = true;
                    state.version = Some(last.version.clone());
                    state.metadata_errors = last.metadata_errors;
                    state.error = Some(format!(
                        "stale: serving the $metadata loaded at {}; the latest fetch failed: {error}",
                        timestamp(last.loaded_at)
                    ));
                    stale += 1;
                    ok.push((service_index, last.metadata.clone()));
                }
                Err(error) => {
                    tracing::warn!(
                        source = %source.name,
                        destination = %service.destination,
                        path = %service.path,
                        error = %error,
                        "service left out of the graph"
                    );
                    state.error = Some(error);
                }
            }
            services.push(state);
        }
        let health = if ok.len() == source.services.len() && stale == 0 {
            SourceHealth::Ready
        } else if ok.is_empty() {
            SourceHealth::Failed
        } else {
            SourceHealth::Degraded
        };
        if !ok.is_empty() {
            loaded.push((source_index, ok));
        }
        states.push(SourceState {
            name: source.name.clone(),
            state: health,
            services,
        });
    }
    let inputs: Vec<SourceInput<'_>> = loaded
        .iter()
        .map(|(source_index, services)| {
            let source = &settings.data_sources[*source_index];
            SourceInput {
                name: &source.name,
                services: services
                    .iter()
                    .map(|(service_index, metadata)| {
                        let service = &source.services[*service_index];
                        ServiceInput {
                            destination: &service.destination,
                            path: &service.path,
                            metadata: metadata.as_ref(),
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    let associations: Vec<CrossAssociation> = settings
        .associations
        .iter()
        .map(|a| CrossAssociation {
            from: a.from.clone(),
            to: a.to.clone(),
            pairs: a
                .pairs()
                .into_iter()
                .map(|(l, r)| (l.to_owned(), r.to_owned()))
                .collect(),
            name: a.name.clone(),
            many: a.multiplicity == bizgraph_config::graph::AssociationMultiplicity::Many,
        })
        .collect();
    let composition = compose(&inputs, &associations);
    for finding in &composition.findings {
        match finding.level {
            Level::Warning => tracing::warn!(finding = %finding, "composition"),
            Level::Info => tracing::debug!(finding = %finding, "composition"),
        }
    }
    // Entity set counts per service, for the report.
    for state in &mut states {
        for service in &mut state.services {
            service.entity_sets = composition
                .graph
                .entities
                .iter()
                .filter(|e| {
                    let s = &composition.graph.services[e.service];
                    composition.graph.namespaces[s.namespace].name == state.name
                        && s.destination == service.destination
                        && s.path == service.path.trim_end_matches('/')
                })
                .count();
        }
    }
    let limits = plan_limits(settings);
    let options = schema_options(settings);
    let graph = Arc::new(composition.graph);
    let schema = match build(graph.clone(), options) {
        Ok(schema) => schema,
        Err(error) => {
            // A schema that does not build is a bug in composition; serve an empty graph
            // rather than nothing, and say so.
            tracing::error!(error = %error.0, "GraphQL schema does not build");
            let empty = Arc::new(Graph::default());
            return Generation {
                schema: build(empty.clone(), options).expect("the empty schema builds"),
                graph: empty,
                sources: states,
                findings: composition.findings,
                loaded_at: SystemTime::now(),
                limits,
                loaded: true,
            };
        }
    };
    Generation {
        graph,
        schema,
        sources: states,
        findings: composition.findings,
        loaded_at: SystemTime::now(),
        limits,
        loaded: true,
    }
}

/// An instant as `2024-05-01T10:00:00.250Z`, for reports.
fn timestamp(at: SystemTime) -> String {
    let millis = at
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis());
    i64::try_from(millis)
        .ok()
        .and_then(|millis| bizgraph_schema::temporal::Timestamp::from_epoch_millis(millis, None))
        .map_or_else(
            || format!("{millis} ms after 1970"),
            |stamp| stamp.to_string(),
        )
}

fn plan_limits(settings: &GraphSettings) -> PlanLimits {
    PlanLimits {
        max_top: settings.limits.max_top,
        max_join_rows: settings.limits.max_join_rows,
        max_url_bytes: settings.limits.max_url_bytes,
    }
}

fn schema_options(settings: &GraphSettings) -> SchemaOptions {
    SchemaOptions {
        plan: plan_limits(settings),
        max_depth: settings.limits.max_depth,
        max_nodes: settings.limits.max_nodes,
    }
}

/// Runs futures concurrently on the current task and collects their outputs in order.
pub async fn join_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut set = Vec::with_capacity(futures.len());
    for future in futures {
        set.push(Box::pin(future));
    }
    let mut outputs: Vec<Option<F::Output>> = (0..set.len()).map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (index, future) in set.iter_mut().enumerate() {
            if outputs[index].is_some() {
                continue;
            }
            match future.as_mut().poll(cx) {
                std::task::Poll::Ready(output) => outputs[index] = Some(output),
                std::task::Poll::Pending => pending = true,
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
