//! `serve`: the mock InboxKit REST API and the `/_mock` control API until SIGTERM or Ctrl-C.

use std::net::TcpListener;
use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, Utc};

use inboxkit_mock::contract::{Secret, format_timestamp};
use inboxkit_mock::delivery::journal::{DEFAULT_JOURNAL_CAPACITY, DEFAULT_MAX_IN_PROGRESS};
use inboxkit_mock::delivery::{DeliveryOrder, SenderOptions};
use inboxkit_mock::persistence::StateSpec;
use inboxkit_mock::server::{
    DEFAULT_MAX_BODY_BYTES, DEFAULT_PORT, RunningServer, ServerConfig, SubscriberSettings,
    subscriber::parse_url,
};
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::simulator::FailureRates;

use super::contract_args::{DeliveryArgs, random_token};
use super::{CliError, exit};

/// Options of `serve`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on (use 0.0.0.0 in containers).
    #[arg(long, env = "INBOXKIT_MOCK_BIND", default_value = "127.0.0.1")]
    bind: String,
    /// Port to listen on (0 picks a free one).
    #[arg(long, env = "INBOXKIT_MOCK_PORT", default_value_t = DEFAULT_PORT)]
    pub(crate) port: u16,
    /// Signing, profile, retry and time-scale options; --api-key is the team API key the REST
    /// API expects (random when absent), --secret the webhook secret (random when absent).
    #[command(flatten)]
    delivery: DeliveryArgs,
    /// Default subscriber URL [default: the built-in receiver].
    #[arg(long, env = "INBOXKIT_MOCK_WEBHOOK_URL")]
    webhook_url: Option<String>,
    /// Seed of the world: the same seed and the same calls give the same ids and payloads.
    #[arg(long, env = "INBOXKIT_MOCK_SEED")]
    seed: Option<u64>,
    /// Simulated start time, ISO 8601 (e.g. 2024-01-10T15:30:45Z) [default: now].
    #[arg(long, env = "INBOXKIT_MOCK_START_TIME", value_parser = parse_time)]
    start_time: Option<DateTime<Utc>>,
    /// Start with the clock paused (advance it with POST /_mock/clock/advance).
    #[arg(long, env = "INBOXKIT_MOCK_PAUSED")]
    paused: bool,
    /// Workspaces in the simulated team.
    #[arg(long, env = "INBOXKIT_MOCK_WORKSPACES", default_value_t = 1)]
    workspaces: usize,
    /// Probability of each failure branch of the lifecycles (0 = always the typical path).
    #[arg(long, env = "INBOXKIT_MOCK_FAILURE_RATE", default_value_t = 0.0)]
    failure_rate: f64,
    /// Probability of one failure branch by its code, e.g. dkim_setup_failed=0.2 (repeatable).
    #[arg(
        long = "failure",
        env = "INBOXKIT_MOCK_FAILURES",
        value_delimiter = ',',
        value_name = "CODE=P"
    )]
    failures: Vec<String>,
    /// Deliveries the journal keeps (oldest finished ones are evicted; memory stays flat).
    #[arg(long, env = "INBOXKIT_MOCK_JOURNAL_CAPACITY", default_value_t = DEFAULT_JOURNAL_CAPACITY)]
    journal_capacity: usize,
    /// Most deliveries in progress at once: past it, calls that create deliveries answer 429
    /// `overloaded` with `Retry-After`, so memory stays bounded under any flood.
    #[arg(long, env = "INBOXKIT_MOCK_MAX_IN_PROGRESS", default_value_t = DEFAULT_MAX_IN_PROGRESS)]
    max_in_progress: usize,
    /// Delivery attempts in flight at once.
    #[arg(long, env = "INBOXKIT_MOCK_CONCURRENCY", default_value_t = 256)]
    concurrency: usize,
    /// `per-entity`: an entity's webhooks arrive in the order of its changes (InboxKit's steps
    /// are minutes apart); `any`: deliveries race, a later change may arrive first (a fault).
    #[arg(long, env = "INBOXKIT_MOCK_DELIVERY_ORDER", value_enum, default_value_t = DeliveryOrder::PerEntity)]
    delivery_order: DeliveryOrder,
    /// HTTP worker threads.
    #[arg(long, env = "INBOXKIT_MOCK_WORKERS", default_value_t = 2)]
    workers: usize,
    /// Largest accepted request body in bytes (larger ones get 413).
    #[arg(long, env = "INBOXKIT_MOCK_MAX_BODY_BYTES", default_value_t = DEFAULT_MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Token the control API (/_mock, except health and ready) requires as
    /// `Authorization: Bearer <token>` [default: none, the control API is open].
    #[arg(long, env = "INBOXKIT_MOCK_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Where to keep the journal, pending retries and simulated time: `memory` (ends with the
    /// process) or `sqlite:PATH` (survives restarts and crashes; delivery stays at least once).
    #[arg(long, env = "INBOXKIT_MOCK_STATE", default_value = "memory", value_parser = parse_state)]
    state: StateSpec,
    /// Real time in-flight attempts get to finish at shutdown.
    #[arg(long, env = "INBOXKIT_MOCK_SHUTDOWN_GRACE", default_value = "10s", value_parser = humantime::parse_duration)]
    shutdown_grace: Duration,
}

fn parse_state(text: &str) -> Result<StateSpec, String> {
    text.parse()
        .map_err(|e: inboxkit_mock::persistence::StateError| e.to_string())
}

fn parse_time(text: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| format!("`{text}` is not an ISO 8601 time like 2024-01-10T15:30:45Z: {e}"))
}

fn failure_rates(args: &Args) -> Result<FailureRates, CliError> {
    let check = |p: f64, what: &str| {
        if (0.0..=1.0).contains(&p) {
            Ok(p)
        } else {
            Err(CliError::usage(format!(
                "{what}: a probability is between 0 and 1, got {p}"
            )))
        }
    };
    let mut rates = FailureRates {
        default: check(args.failure_rate, "--failure-rate")?,
        ..FailureRates::default()
    };
    let known = FailureRates::known_codes();
    for entry in &args.failures {
        let (code, p) = entry.split_once('=').ok_or_else(|| {
            CliError::usage(format!(
                "--failure `{entry}` is not CODE=P (e.g. dkim_setup_failed=0.2)"
            ))
        })?;
        if !known.contains(&code) {
            return Err(CliError::usage(format!(
                "--failure: unknown failure code `{code}`; known: {}",
                known.join(", ")
            )));
        }
        let p: f64 = p
            .parse()
            .map_err(|_| CliError::usage(format!("--failure `{entry}`: `{p}` is not a number")))?;
        rates
            .by_code
            .insert(code.to_owned(), check(p, "--failure")?);
    }
    Ok(rates)
}

fn config(args: &Args) -> Result<ServerConfig, CliError> {
    let d = &args.delivery;
    let contract = d.profile.settings();
    let clock = match args.start_time {
        Some(start) => Clock::starting_at(start, d.time_scale),
        None => Clock::scaled(d.time_scale),
    }
    .map_err(|e| CliError::usage(format!("--time-scale: {e}")))?;
    if args.paused {
        clock.pause();
    }
    let api_key = Secret::new(d.keys.api_key.clone().unwrap_or_else(random_token));
    let secret = Secret::new(
        d.keys
            .secret
            .clone()
            .unwrap_or_else(|| format!("whsec_{}", uuid::Uuid::new_v4().simple())),
    );
    let url = args
        .webhook_url
        .as_deref()
        .map(parse_url)
        .transpose()
        .map_err(|e| CliError::usage(format!("--webhook-url: {e}")))?;
    let subscriber = SubscriberSettings {
        url,
        profile: d.profile.profile,
        payload_shape: contract.payload_shape,
        // The API key always exists here (it guards the REST API), so it implies no scheme.
        signature_scheme: d.keys.signature_scheme.unwrap_or(contract.signature_scheme),
        secret,
        api_key: api_key.clone(),
        send_authorization: d.send_authorization.unwrap_or(contract.send_authorization),
        bearer: d
            .auth_token
            .clone()
            .map(Secret::new)
            .unwrap_or_else(|| api_key.clone()),
        timeout: contract.timeout,
        retry_delays: d.retry_delays.0.clone(),
        mock_headers: !d.no_mock_headers,
    };
    Ok(ServerConfig {
        seed: args.seed.unwrap_or_else(rand::random),
        workspaces: args.workspaces.max(1),
        failures: failure_rates(args)?,
        clock,
        api_key,
        builtin_receiver: subscriber.url.is_none(),
        subscriber,
        sender: SenderOptions {
            concurrency: args.concurrency.max(1),
            journal_capacity: args.journal_capacity.max(1),
            order: args.delivery_order,
            max_in_progress: args.max_in_progress.max(1),
            ..args.delivery.sender_options()
        },
        workers: args.workers.max(1),
        max_body_bytes: args.max_body_bytes.max(1024),
        admin_token: args
            .admin_token
            .clone()
            .filter(|token| !token.is_empty())
            .map(Secret::new),
        state: args.state.clone(),
    })
}

/// Serves until SIGTERM or Ctrl-C, then shuts down gracefully and prints the tally.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let config = config(&args)?;
    let listener = TcpListener::bind((args.bind.as_str(), args.port))
        .with_context(|| format!("binding {}:{}", args.bind, args.port))?;
    let server = RunningServer::start(listener, config.clone()).context("starting the server")?;
    let stop = shutdown_signal();
    if config.admin_token.is_none() && inboxkit_mock::server::auth::beyond_loopback(&args.bind) {
        let warning = format!(
            "serve is bound to {} (beyond loopback) without --admin-token: anyone who can reach it can drive the control API (/_mock)",
            args.bind
        );
        eprintln!("warning: {warning}");
    }
    let seed = server.state().with_world(|w| w.seed());
    if let Some(asked) = args.seed.filter(|asked| *asked != seed) {
        eprintln!(
            "warning: --seed {asked} ignored: the world saved in {} was built from seed {seed}",
            config.state
        );
    }
    print_banner(&server, &config);
    stop.await;
    println!(
        "\nshutting down: no new work; in-flight deliveries get up to {}",
        humantime::format_duration(args.shutdown_grace)
    );
    let tally = server.shutdown(args.shutdown_grace).await;
    println!("shutdown tally: {tally}");
    Ok(exit::OK)
}

fn print_banner(server: &RunningServer, config: &ServerConfig) {
    let base = server.base_url();
    let state = server.state();
    let (team, workspace) = state.with_world(|w| {
        (
            format!("{} ({})", w.team().id, w.team().name),
            w.workspaces()[0].id.clone(),
        )
    });
    let settings = &config.subscriber;
    let target = match (&settings.url, server.receiver_url()) {
        (Some(url), _) => url.to_string(),
        (None, Some(url)) => format!(
            "built-in receiver {url} (what it got: GET {})",
            url.join("/received")
                .map(|u| u.to_string())
                .unwrap_or_default()
        ),
        (None, None) => "none".to_owned(),
    };
    let key = match settings.signature_scheme {
        inboxkit_mock::contract::SignatureScheme::HmacBody => {
            format!("webhook secret {}", settings.secret.expose())
        }
        inboxkit_mock::contract::SignatureScheme::ApiKeySha256 => "the team API key".to_owned(),
    };
    let clock = state.clock();
    let seed = state.with_world(|w| w.seed());
    println!("inboxkit-mock serve: listening on {base}");
    println!(
        "  REST API     {base}/v1/api  (Authorization: Bearer {})",
        config.api_key.expose()
    );
    println!(
        "  control API  {base}/_mock   (health, ready, clock, events, deliveries, subscriber, metrics, reset)"
    );
    println!("  web UI       {base}/  (live deliveries, attempts, redeliver, trigger)");
    println!("  team         {team}; workspace {workspace} (X-Workspace-Id)");
    let counters = state.sender().journal().counters();
    println!(
        "  state        {}; {} deliveries loaded, {} resumed",
        config.state, counters.events, counters.resumed
    );
    println!("  webhooks to  {target}");
    println!(
        "  signing      {} with {key}; profile {:?}",
        settings.signature_scheme, settings.profile
    );
    println!(
        "  clock        {} at {}x{}; seed {} (pass --seed {} to replay)",
        format_timestamp(clock.now()),
        clock.scale(),
        if clock.is_paused() { ", paused" } else { "" },
        seed,
        seed
    );
    println!(
        "try: curl -s -X POST {base}/v1/api/domains/register -H 'Authorization: Bearer {}' -H 'Content-Type: application/json' -d '{{\"domains\":[{{\"name\":\"example.com\",\"registration_years\":1}}]}}'",
        config.api_key.expose()
    );
}

/// Registers for SIGTERM at once (so a signal that arrives while the banner prints is not fatal)
/// and returns a future that ends on SIGTERM or Ctrl-C.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    async move {
        #[cfg(unix)]
        if let Some(mut terminate) = terminate {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = terminate.recv() => {}
            }
            return;
        }
        let _ = tokio::signal::ctrl_c().await;
    }
}
