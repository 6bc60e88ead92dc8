//! `serve`: the mock InboxKit REST API plus the `/_mock` control API over actix-web.
//!
//! [`build_app`] builds the whole route table and is used by the server and the tests alike;
//! [`RunningServer::start`] takes an already bound listener (tests bind port 0); [`run`] serves
//! until a shutdown signal and returns the shutdown tally.
//!
//! Flow: a REST call changes the world and schedules the entity's next step -> the driver (or
//! `POST /_mock/clock/advance`) fires due steps in order -> each becomes a signed webhook
//! submitted to the workspace's subscriber -> the journal records every attempt.

pub(crate) mod answers;
pub mod auth;
mod body;
mod control;
mod deliveries;
#[cfg(feature = "state")]
mod kept;
/// Built without the `state` feature, nothing is kept: a type without values.
#[cfg(not(feature = "state"))]
mod kept {
    use std::sync::Arc;

    use super::state::StateSink;
    use super::{ServerConfig, ServerError};
    use crate::simulation::changes::WorldConfig;
    use crate::simulation::simulator::Simulation;

    #[derive(Debug)]
    pub(super) enum Kept {}

    impl Kept {
        pub(super) fn open(_: &ServerConfig) -> Result<Option<Kept>, ServerError> {
            Ok(None)
        }

        pub(super) fn world(&self) -> Option<WorldConfig> {
            match *self {}
        }

        pub(super) fn replay(&self, _: &mut Simulation) {
            match *self {}
        }

        pub(super) fn sink(&self) -> Arc<dyn StateSink> {
            match *self {}
        }
    }
}
pub(crate) mod metrics;
pub(crate) mod numbers;
pub(crate) mod openapi;
pub(crate) mod operations;
pub mod problem;
pub(crate) mod rest;
mod shutdown;
mod state;
pub mod subscriber;
pub mod ui;

use std::future::Future;
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::{App, HttpServer, web};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use url::Url;

pub use problem::{ApiError, RestError};
pub use shutdown::ShutdownTally;
pub use state::{AdvanceError, Advanced, AppState, Change, Changed, Phase, Refused, StateSink};
pub use subscriber::{SubscriberSettings, SubscriberUpdate};

use crate::contract::Secret;
use crate::delivery::engine::SenderError;
use crate::delivery::{Sender, SenderOptions};
use crate::listener_limits as limits;
#[cfg(feature = "state")]
use crate::persistence::{StateError, StateSpec, StateWriter};
use crate::receiver::{ReceiverConfig, ReceiverError, RunningReceiver};
use crate::simulation::Clock;
use crate::simulation::changes::WorldConfig;
use crate::simulation::simulator::{FailureRates, Simulation};

/// Default port of `serve`.
pub const DEFAULT_PORT: u16 = 8025;
/// Default largest request body (1 MiB); larger bodies get 413.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;
/// Default time in-flight attempts get to finish at shutdown.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Everything `serve` needs to start.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Seed of the world (ids, names, credentials, failure draws).
    pub seed: u64,
    /// Workspaces in the team (at least one).
    pub workspaces: usize,
    /// Failure-branch probabilities.
    pub failures: FailureRates,
    /// The simulated clock (scale, start time, paused or not).
    pub clock: Clock,
    /// The team API key REST calls must present.
    pub api_key: Secret,
    /// Subscriber settings; `url: None` means the built-in receiver.
    pub subscriber: SubscriberSettings,
    /// Start the built-in receiver as the default subscriber.
    pub builtin_receiver: bool,
    /// Sender settings (journal capacity, concurrency).
    pub sender: SenderOptions,
    /// HTTP worker threads.
    pub workers: usize,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Token the control API requires (except health and readiness); `None` leaves it open.
    pub admin_token: Option<Secret>,
    /// Where the journal, pending retries and simulated time are kept (default: memory).
    #[cfg(feature = "state")]
    pub state: StateSpec,
}

impl ServerConfig {
    /// A config with documented defaults, a fixed seed and the given keys.
    pub fn new(seed: u64, clock: Clock, api_key: Secret, webhook_secret: Secret) -> Self {
        let subscriber = SubscriberSettings::from_profile(
            crate::contract::Profile::Seed,
            webhook_secret,
            api_key.clone(),
            api_key.clone(),
        );
        ServerConfig {
            seed,
            workspaces: 1,
            failures: FailureRates::default(),
            clock,
            api_key,
            subscriber,
            builtin_receiver: true,
            sender: SenderOptions::default(),
            workers: 2,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            admin_token: None,
            #[cfg(feature = "state")]
            state: StateSpec::Memory,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// Binding or running the HTTP server failed.
    #[error("could not start the server: {0}")]
    Io(#[from] std::io::Error),
    /// The delivery client could not be built.
    #[error(transparent)]
    Sender(#[from] SenderError),
    /// The built-in receiver could not start.
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    /// The saved state could not be opened or read.
    #[cfg(feature = "state")]
    #[error(transparent)]
    State(#[from] StateError),
}

/// The whole route table: `/v1/api/...` (REST), `/_mock/...` (control), the web page at `/`
/// (`ui.rs`), 404 problems elsewhere (405 with `Allow` for a known path and another method).
/// `HEAD` is answered wherever `GET` is; every body must arrive within
/// [`limits::BODY_TIMEOUT`].
pub fn build_app(
    state: web::Data<AppState>,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let limit = state.max_body_bytes();
    let rest_json = web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| RestError(problem::json_error(error, limit)).into());
    let control_json = web::JsonConfig::default()
        .limit(limit)
        .error_handler(move |error, _| problem::json_error(error, limit).into());
    let rest_query = web::QueryConfig::default()
        .error_handler(|error, _| RestError(problem::query_error(error)).into());
    let control_query =
        web::QueryConfig::default().error_handler(|error, _| problem::query_error(error).into());
    App::new()
        .wrap(actix_web::middleware::from_fn(numbers::whole_numbers))
        .wrap(actix_web::middleware::from_fn(method_allowed))
        .wrap(actix_web::middleware::from_fn(|request, next| {
            limits::with_deadline(request, next, limits::BODY_TIMEOUT)
        }))
        .wrap(actix_web::middleware::from_fn(head_as_get))
        .app_data(state)
        .app_data(web::PayloadConfig::new(limit))
        .service(
            web::scope("/v1/api")
                .app_data(rest_json)
                .app_data(rest_query)
                .configure(rest::routes)
                .default_service(web::to(rest_not_found)),
        )
        .service(
            web::scope("/_mock")
                .wrap(actix_web::middleware::from_fn(auth::require_admin))
                .app_data(control_json)
                .app_data(control_query)
                .configure(metrics::routes)
                .configure(deliveries::routes)
                .configure(control::routes),
        )
        .configure(ui::routes)
        .default_service(web::to(problem::not_found))
}

async fn rest_not_found(
    request: actix_web::HttpRequest,
) -> Result<actix_web::HttpResponse, RestError> {
    Err(RestError(problem::unrouted(&request)))
}

/// 405 before routing when a documented path does not take this method (so `GET
/// /_mock/clock/pause` is not taken by `GET /_mock/{kind}/{uid}`); in InboxKit's envelope on
/// `/v1/api`, as a problem elsewhere.
async fn method_allowed(
    request: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<actix_web::body::EitherBody<impl MessageBody>>, actix_web::Error> {
    let allowed = operations::methods_of(request.path());
    if allowed.is_empty() || allowed.contains(&request.method().as_str()) {
        return Ok(next.call(request).await?.map_into_left_body());
    }
    let (request, _) = request.into_parts();
    let refusal = problem::unrouted(&request);
    let response = if request.path().starts_with("/v1/api/") {
        actix_web::ResponseError::error_response(&RestError(refusal))
    } else {
        actix_web::ResponseError::error_response(&refusal)
    };
    Ok(ServiceResponse::new(request, response).map_into_right_body())
}

/// `HEAD` runs the `GET` route: actix remembers the request was `HEAD` and sends the head of
/// the answer (with its `Content-Length`) without the body.
async fn head_as_get(
    mut request: ServiceRequest,
    next: actix_web::middleware::Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if request.method() == actix_web::http::Method::HEAD {
        request.head_mut().method = actix_web::http::Method::GET;
    }
    next.call(request).await
}

/// A server running in the background.
#[derive(Debug)]
pub struct RunningServer {
    addr: SocketAddr,
    state: web::Data<AppState>,
    handle: ServerHandle,
    http: JoinHandle<std::io::Result<()>>,
    driver: JoinHandle<()>,
    stop: CancellationToken,
    receiver: Option<RunningReceiver>,
    #[cfg(feature = "state")]
    writer: Option<StateWriter>,
}

impl RunningServer {
    /// Starts on an already bound listener: the built-in receiver (unless a subscriber URL is
    /// configured), the HTTP server and the scheduler's driver; ready once this returns.
    pub fn start(listener: TcpListener, config: ServerConfig) -> Result<Self, ServerError> {
        let addr = listener.local_addr()?;
        let receiver = if config.builtin_receiver {
            let verifier = Some(config.subscriber.signer(None));
            Some(RunningReceiver::start_local(ReceiverConfig {
                verifier,
                admin_token: config.admin_token.clone(),
                ..ReceiverConfig::default()
            })?)
        } else {
            None
        };
        let kept = kept::Kept::open(&config)?;
        let sender = Sender::new(config.clock.clone(), config.sender.clone())?;
        let world = kept
            .as_ref()
            .and_then(|kept| kept.world())
            .unwrap_or_else(|| WorldConfig::new(config.seed, config.workspaces, &config.failures));
        let mut sim = Simulation::new(world.seed, world.workspaces, world.failure_rates());
        if let Some(kept) = &kept {
            kept.replay(&mut sim);
        }
        let state = web::Data::new(AppState::new(state::Parts {
            sim,
            clock: config.clock.clone(),
            sender,
            api_key: config.api_key.clone(),
            settings: config.subscriber.clone(),
            builtin_url: receiver.as_ref().map(RunningReceiver::webhook_url),
            builtin_store: receiver.as_ref().map(|r| r.store().clone()),
            max_body_bytes: config.max_body_bytes,
            store: kept.as_ref().map(|kept| kept.sink()),
        }));
        state.persist_world(&world);
        #[cfg(feature = "state")]
        let writer = kept.map(|kept| kept.resume(&state));
        let app_state = state.clone();
        let admin = config
            .admin_token
            .clone()
            .map(|token| web::Data::new(auth::AdminToken::new(token)));
        let server = HttpServer::new(move || {
            let app = build_app(app_state.clone());
            match &admin {
                Some(admin) => app.app_data(admin.clone()),
                None => app,
            }
        })
        .workers(config.workers.max(1))
        .client_request_timeout(limits::HEAD_TIMEOUT)
        .client_disconnect_timeout(limits::DISCONNECT_TIMEOUT)
        .max_connections(limits::connections_per_worker(config.workers))
        .disable_signals()
        .shutdown_timeout(5)
        .listen(listener)?
        .run();
        let handle = server.handle();
        let http = tokio::spawn(server);
        let stop = CancellationToken::new();
        let driver = tokio::spawn(state::drive(state.clone().into_inner(), stop.clone()));
        state.set_phase(Phase::Ready);
        Ok(RunningServer {
            addr,
            state,
            handle,
            http,
            driver,
            stop,
            receiver,
            #[cfg(feature = "state")]
            writer,
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The shared state: clock, journal, world.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The shared state as actix app data, e.g. for [`build_app`] in an in-process test service.
    pub fn app_data(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// The state database's writer, under `--state sqlite:` (tests cap its size to simulate a
    /// full disk).
    #[cfg(feature = "state")]
    pub fn state_writer(&self) -> Option<&StateWriter> {
        self.writer.as_ref()
    }

    /// The built-in receiver, when it runs.
    pub fn receiver(&self) -> Option<&RunningReceiver> {
        self.receiver.as_ref()
    }

    /// The built-in receiver's webhook URL, when it runs.
    pub fn receiver_url(&self) -> Option<Url> {
        self.receiver.as_ref().map(RunningReceiver::webhook_url)
    }

    /// Graceful shutdown: intake stops, the driver stops, open HTTP requests finish, in-flight
    /// attempts get `grace` to finish, and what is still unfinished is journaled as interrupted.
    pub async fn shutdown(self, grace: Duration) -> ShutdownTally {
        self.state.set_phase(Phase::Draining);
        self.stop.cancel();
        let _ = self.driver.await;
        self.handle.stop(true).await;
        let _ = self.http.await;
        let tally = shutdown::drain(&self.state, grace).await;
        #[cfg(feature = "state")]
        if let Some(writer) = &self.writer {
            self.state.save_all().await;
            writer.close().await;
        }
        if let Some(receiver) = self.receiver {
            receiver.stop().await;
        }
        tally
    }
}

/// Serves on `listener` until `signal` completes, then shuts down gracefully.
pub async fn run(
    config: ServerConfig,
    listener: TcpListener,
    grace: Duration,
    signal: impl Future<Output = ()>,
) -> Result<ShutdownTally, ServerError> {
    let server = RunningServer::start(listener, config)?;
    signal.await;
    Ok(server.shutdown(grace).await)
}
