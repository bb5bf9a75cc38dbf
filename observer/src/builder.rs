//! Configuring and starting an observer.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use treeline::System;

use crate::dead_letters::DeadLetterLog;
use crate::hub::Hub;
use crate::routes::{self, Shared};
use crate::security::Security;

/// How an [`Observer`] serves: where, for whom, and what it allows.
///
/// ```
/// use std::time::Duration;
/// use treeline_observer::Observer;
///
/// let builder = Observer::builder()
///     .bind("127.0.0.1:7070".parse().unwrap())
///     .token("s3cret")
///     .interval(Duration::from_millis(500));
/// # let _ = builder;
/// ```
#[derive(Clone)]
pub struct ObserverBuilder {
    bind: SocketAddr,
    token: Option<String>,
    remote: bool,
    destructive: bool,
    hosts: Vec<String>,
    interval: Duration,
    busy: Duration,
    stuck: Duration,
    #[cfg(feature = "metrics")]
    prometheus: Option<metrics_exporter_prometheus::PrometheusHandle>,
}

impl fmt::Debug for ObserverBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObserverBuilder")
            .field("bind", &self.bind)
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("remote", &self.remote)
            .field("destructive", &self.destructive)
            .field("hosts", &self.hosts)
            .field("interval", &self.interval)
            .finish_non_exhaustive()
    }
}

impl Default for ObserverBuilder {
    fn default() -> Self {
        ObserverBuilder {
            bind: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0),
            token: None,
            remote: false,
            destructive: false,
            hosts: Vec::new(),
            interval: Duration::from_secs(1),
            busy: Duration::from_secs(1),
            stuck: Duration::from_secs(10),
            #[cfg(feature = "metrics")]
            prometheus: None,
        }
    }
}

/// Why an observer could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ObserverError {
    /// The address is not a loopback one and [`ObserverBuilder::allow_remote`]
    /// was not called.
    RemoteNotAllowed(SocketAddr),
    /// Remote access without a token.
    RemoteWithoutToken,
    /// Binding the address failed.
    Bind(std::io::Error),
}

impl fmt::Display for ObserverError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ObserverError::RemoteNotAllowed(addr) => {
                write!(f, "{addr} is not a loopback address: call allow_remote() (with a token) to serve it")
            }
            ObserverError::RemoteWithoutToken => f.write_str("remote access needs a token"),
            ObserverError::Bind(error) => write!(f, "cannot bind the observer: {error}"),
        }
    }
}

impl std::error::Error for ObserverError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ObserverError::Bind(error) => Some(error),
            _ => None,
        }
    }
}

impl ObserverBuilder {
    /// The address to listen on (default `127.0.0.1:0`: loopback, any free
    /// port). A non-loopback address needs [`ObserverBuilder::allow_remote`].
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.bind = addr;
        self
    }

    /// Requires this token: in the page's URL once (`?token=...`, then a
    /// cookie), or as `Authorization: Bearer ...`.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Some(token.into());
        self
    }

    /// Requires a random token, printed in [`Observer::url`].
    pub fn generate_token(self) -> Self {
        let token = random_token();
        self.token(token)
    }

    /// Allows a non-loopback bind address (a token is then required) and
    /// Host names given with [`ObserverBuilder::allow_host`].
    pub fn allow_remote(mut self) -> Self {
        self.remote = true;
        self
    }

    /// Accepts requests whose `Host` is `name` (besides the loopback
    /// names), for a proxy or a remote bind.
    pub fn allow_host(mut self, name: impl Into<String>) -> Self {
        self.hosts.push(name.into());
        self
    }

    /// Allows actions that change the System (today: make an actor exit,
    /// `POST /api/v1/actors/{id}/exit`). Off by default.
    pub fn allow_destructive_actions(mut self, allow: bool) -> Self {
        self.destructive = allow;
        self
    }

    /// How often the event stream sends a snapshot (default 1 s).
    pub fn interval(mut self, every: Duration) -> Self {
        self.interval = every.max(Duration::from_millis(50));
        self
    }

    /// When an actor in one handler is flagged busy (default 1 s) and stuck
    /// (default 10 s).
    pub fn thresholds(mut self, busy: Duration, stuck: Duration) -> Self {
        self.busy = busy;
        self.stuck = stuck.max(busy);
        self
    }

    /// Serves `/metrics` from this Prometheus recorder's handle, after
    /// recording the System's sampled metrics into it (feature `metrics`).
    #[cfg(feature = "metrics")]
    pub fn prometheus(mut self, handle: metrics_exporter_prometheus::PrometheusHandle) -> Self {
        self.prometheus = Some(handle);
        self
    }

    /// The observer's routes for `system`, with its security checks, to
    /// mount in an application's own server (behind its own TLS and
    /// authentication). It starts the dead-letter log (an actor of kind
    /// `treeline-observer`), which stops with the System.
    pub async fn router(self, system: &System) -> axum::Router {
        self.parts(system).await.0
    }

    async fn parts(self, system: &System) -> (axum::Router, Arc<Shared>) {
        let dead_letters = DeadLetterLog::start(system).await;
        let hub = Hub::new(system.clone(), dead_letters.clone(), self.interval, self.busy, self.stuck);
        let security = Security::new(self.token.clone(), self.hosts.clone());
        let shared = Arc::new(Shared {
            system: system.clone(),
            hub,
            dead_letters,
            destructive: self.destructive,
            busy: self.busy,
            stuck: self.stuck,
            #[cfg(feature = "metrics")]
            prometheus: self.prometheus.clone(),
        });
        (routes::router(shared.clone(), security), shared)
    }

    /// Binds and serves, in a task of the current tokio runtime, until the
    /// returned [`Observer`] is stopped or dropped.
    pub async fn serve(self, system: &System) -> Result<Observer, ObserverError> {
        if !self.bind.ip().is_loopback() {
            if !self.remote {
                return Err(ObserverError::RemoteNotAllowed(self.bind));
            }
            if self.token.is_none() {
                return Err(ObserverError::RemoteWithoutToken);
            }
        }
        let listener = tokio::net::TcpListener::bind(self.bind).await.map_err(ObserverError::Bind)?;
        let addr = listener.local_addr().map_err(ObserverError::Bind)?;
        let token = self.token.clone();
        let (router, shared) = self.parts(system).await;
        let (stop, stopped) = oneshot::channel::<()>();
        let server = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        let task = tokio::spawn(async move {
            if let Err(error) = server.await {
                tracing::error!(target: "treeline::observer", %error, "the observer's server failed");
            }
        });
        Ok(Observer { addr, token, stop: Some(stop), task: Some(task), shared })
    }
}

/// A running observer; dropping it stops the server.
pub struct Observer {
    addr: SocketAddr,
    token: Option<String>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    shared: Arc<Shared>,
}

impl fmt::Debug for Observer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Observer").field("addr", &self.addr).finish_non_exhaustive()
    }
}

impl Observer {
    /// A builder with the safe defaults.
    pub fn builder() -> ObserverBuilder {
        ObserverBuilder::default()
    }

    /// Where it listens.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The page's address, with the token if there is one.
    pub fn url(&self) -> String {
        match &self.token {
            Some(token) => format!("http://{}/?token={token}", self.addr),
            None => format!("http://{}/", self.addr),
        }
    }

    /// Stops serving (open event streams end) and waits for the server.
    pub async fn stop(mut self) {
        self.shutdown();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    fn shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.hub.close();
        self.shared.dead_letters.stop();
    }
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// 128 random bits, hex: from the standard library's randomly seeded
/// hasher (no extra dependency), mixed with the time and the process id.
fn random_token() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut token = String::with_capacity(32);
    for round in 0..2u64 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(round);
        hasher.write_u128(
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos(),
        );
        hasher.write_u32(std::process::id());
        token.push_str(&format!("{:016x}", hasher.finish()));
    }
    token
}
