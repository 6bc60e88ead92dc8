//! `run`: a scenario file against a subscriber, with a report and a pass/fail exit code.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::Context;
use inboxkit_mock::contract::{Profile, Secret, Signer, format_timestamp};
use inboxkit_mock::delivery::policy::DEFAULT_RETRY_DELAYS;
use inboxkit_mock::delivery::transport::TransportOptions;
use inboxkit_mock::delivery::{DeliveryOrder, RetryPolicy, Sender, SenderOptions, Subscriber};
use inboxkit_mock::load::report::failures::DEFAULT_FAILED_DELIVERIES;
use inboxkit_mock::load::runner::DEFAULT_MAX_IN_FLIGHT;
use inboxkit_mock::load::schedule::Segment;
use inboxkit_mock::load::{
    LoadTarget, PhasePlan, Progress, Report, Shard, StepResult, html, runner,
};
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::scenario::steps::StepRunner;
use inboxkit_mock::scenario::{Scenario, ScenarioError};
use inboxkit_mock::server::subscriber::SubscriberSettings;
use inboxkit_mock::server::{RunningServer, ServerConfig};
use inboxkit_mock::simulation::Clock;

use super::contract_args::{parse_target, random_token};
use super::{CliError, exit};

/// Exit code: a threshold was breached or a step failed.
pub const THRESHOLD_BREACHED: u8 = 99;
/// Exit code: the scenario file is invalid.
pub const INVALID_SCENARIO: u8 = 65;

/// Options of `run`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The scenario file (TOML).
    scenario: PathBuf,
    /// Subscriber URL [default: the scenario's, else the built-in receiver].
    #[arg(long, env = "INBOXKIT_MOCK_TARGET")]
    target: Option<String>,
    /// Webhook secret for the target [default: the scenario's, else random].
    #[arg(long, env = "INBOXKIT_MOCK_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// API key for the target (api-key-sha256 scheme).
    #[arg(long, env = "INBOXKIT_MOCK_API_KEY", hide_env_values = true)]
    api_key: Option<String>,
    /// Contract profile for every delivery, steps and load alike [default: the scenario's].
    #[arg(long, env = "INBOXKIT_MOCK_PROFILE", value_enum)]
    profile: Option<Profile>,
    /// Accept an https target's invalid certificate (self-signed test servers).
    #[arg(long, env = "INBOXKIT_MOCK_INSECURE")]
    insecure: bool,
    /// Run slice i of n (e.g. 2/4): a 1/n share of every rate, its own seed. `env:VAR/n` takes
    /// the 0-based index from variable VAR, e.g. `env:JOB_COMPLETION_INDEX/4` in a Kubernetes
    /// Indexed Job.
    #[arg(long, default_value = "1/1")]
    shard: String,
    /// Print the JSON report on standard output after the summary, between marker lines, so
    /// `report` can merge it from logs (`kubectl logs ... > shards.log`).
    #[arg(long)]
    print_report: bool,
    /// Multiply every load duration, e.g. 0.05 for a short CI run.
    #[arg(long, env = "INBOXKIT_MOCK_DURATION_FACTOR", default_value_t = 1.0)]
    duration_factor: f64,
    /// Write the full report (with HDR histograms, mergeable) as JSON.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Write a JUnit XML report.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// Write a self-contained HTML report.
    #[arg(long)]
    html: Option<PathBuf>,
    /// Keep the first N failed deliveries in the report, with every attempt's request and
    /// response [default: the scenario's `[report] failed_deliveries`, else 20; 0 keeps none].
    #[arg(long, value_name = "N")]
    failed_deliveries: Option<usize>,
    /// Threads that make the deliveries [default: one per core; half as many (at least one)
    /// when the subscriber runs on this machine (a loopback address, or the built-in receiver),
    /// whose cores it needs].
    #[arg(
        long,
        env = "INBOXKIT_MOCK_THREADS",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..=1024)
    )]
    threads: Option<u16>,
    /// The scenario, once read: `worker_threads` reads it before the runtime starts, `run`
    /// takes it from here.
    #[arg(skip)]
    loaded: Option<Box<Result<Scenario, ScenarioError>>>,
}

impl Args {
    /// The scenario file, read on first use.
    fn scenario(&mut self) -> &Result<Scenario, ScenarioError> {
        let path = &self.scenario;
        self.loaded
            .get_or_insert_with(|| Box::new(Scenario::load(path)))
    }
}

/// How many worker threads `run` gets: `--threads`, else one per core, or half as many when
/// the subscriber shares the machine. On 2 cores against a local nginx, one sender thread
/// delivered 63,000/s at 16.5 µs of CPU each where two delivered 49,000/s at 24.9 µs: the
/// second fought the subscriber for its core and added cross-thread wake-ups.
pub fn worker_threads(args: &mut Args) -> usize {
    if let Some(threads) = args.threads {
        return usize::from(threads);
    }
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    // An unreadable scenario is reported by `run` itself; here it only means "not known".
    let url = match &args.target {
        Some(url) => Some(url.clone()),
        None => args
            .scenario()
            .as_ref()
            .ok()
            .and_then(|scenario| scenario.target.url.clone()),
    };
    let local = url.is_none_or(|url| is_this_machine(&url));
    if local { (cores / 2).max(1) } else { cores }
}

/// Whether `url` names this machine: a loopback or unspecified address, or `localhost`.
fn is_this_machine(url: &str) -> bool {
    match url::Url::parse(url).ok().as_ref().and_then(url::Url::host) {
        Some(url::Host::Ipv4(address)) => address.is_loopback() || address.is_unspecified(),
        Some(url::Host::Ipv6(address)) => {
            let address = address.to_canonical();
            address.is_loopback() || address.is_unspecified()
        }
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => false,
    }
}

/// Runs the scenario; 0 pass, 99 breach, 65 invalid scenario, 70 runtime error.
pub async fn run(mut args: Args) -> Result<u8, CliError> {
    let loaded = match args.loaded.take() {
        Some(loaded) => *loaded,
        None => Scenario::load(&args.scenario),
    };
    let scenario = match loaded {
        Ok(scenario) => scenario,
        Err(error) => {
            eprintln!("error: {error}");
            return Ok(INVALID_SCENARIO);
        }
    };
    let shard = resolve_shard(&args.shard, |name| std::env::var(name).ok())
        .map_err(|e| CliError::usage(format!("--shard: {e}")))?;
    if !(args.duration_factor.is_finite() && args.duration_factor > 0.0) {
        return Err(CliError::usage(
            "--duration-factor must be a positive number",
        ));
    }
    let spec = &scenario.target;
    let profile = args.profile.or(spec.profile).unwrap_or_default();
    let settings = {
        let mut settings = profile.settings();
        if let Some(shape) = spec.payload_shape {
            settings.payload_shape = shape;
        }
        if let Some(scheme) = spec.signature_scheme {
            settings.signature_scheme = scheme;
        }
        if let Some(timeout) = &spec.timeout {
            settings.timeout =
                humantime::parse_duration(timeout.get_ref()).expect("validated at load");
        }
        settings
    };
    let key = args
        .secret
        .clone()
        .or_else(|| args.api_key.clone())
        .or_else(|| spec.secret.clone())
        .or_else(|| spec.api_key.clone())
        .unwrap_or_else(random_token);
    let key = Secret::new(key);
    let signer = Signer::new(settings.signature_scheme, key.clone());

    let receiver;
    let url = match args.target.as_deref().or(spec.url.as_deref()) {
        Some(url) => {
            receiver = None;
            parse_target(url)?
        }
        None => {
            let started = RunningReceiver::start_local(ReceiverConfig {
                verifier: Some(signer.clone()),
                capacity: Some(10_000),
                faults: scenario.receiver_faults(),
                fault_seed: scenario.world.seed,
                ..ReceiverConfig::default()
            })
            .context("starting the built-in receiver")?;
            let url = started.webhook_url();
            receiver = Some(started);
            url
        }
    };
    let delays = spec
        .retry_delays
        .as_ref()
        .map(|delays| {
            delays
                .iter()
                .map(|d| humantime::parse_duration(d.get_ref()).expect("validated at load"))
                .collect()
        })
        .unwrap_or_else(|| DEFAULT_RETRY_DELAYS.to_vec());
    let clock = Clock::scaled(spec.time_scale.unwrap_or(1.0))
        .map_err(|e| CliError::usage(format!("target.time_scale: {e}")))?;
    let sender = Sender::new(
        clock,
        SenderOptions {
            concurrency: spec.concurrency.unwrap_or(1024),
            journal_capacity: 10_000,
            transport: TransportOptions {
                insecure: args.insecure,
            },
            // Load events are independent sample entities; disorder is the explicit
            // `[faults] reorder`, so the per-entity lines would only cost time.
            order: DeliveryOrder::Any,
            ..SenderOptions::default()
        },
    )
    .map_err(anyhow::Error::from)?;
    let subscriber = Arc::new(Subscriber {
        url: url.clone(),
        signer,
        bearer: settings
            .send_authorization
            .then(|| Secret::new(random_token())),
        timeout: settings.timeout,
        policy: RetryPolicy::with_delays(delays),
        mock_headers: true,
    });
    let mis_signed = Arc::new(Subscriber {
        signer: Signer::new(settings.signature_scheme, Secret::new(random_token())),
        ..(*subscriber).clone()
    });

    let phases: Vec<PhasePlan> = scenario
        .load
        .iter()
        .enumerate()
        .map(|(index, phase)| PhasePlan {
            name: phase
                .name
                .clone()
                .unwrap_or_else(|| format!("load[{index}]")),
            segments: phase
                .segments()
                .into_iter()
                .map(|(from, to, length)| Segment {
                    from,
                    to,
                    length: length.mul_f64(args.duration_factor),
                })
                .collect(),
            mix: phase.event_mix(),
            max_in_flight: phase.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
        })
        .collect();
    let started_at = format_timestamp(chrono::Utc::now());
    let seed = scenario.world.seed.unwrap_or_else(rand::random);
    let steps = if scenario.steps.is_empty()
        && scenario.world.domains == 0
        && scenario.world.mailboxes == 0
    {
        Vec::new()
    } else {
        run_steps(
            &scenario,
            &subscriber,
            receiver.is_none().then_some(&key),
            profile,
            seed,
        )
        .await?
    };
    let progress = Arc::new(Progress::default());
    let ticker = tokio::spawn(show_progress(progress.clone()));
    let target = LoadTarget {
        sender,
        subscriber,
        mis_signed,
        shape: settings.payload_shape,
        failed_deliveries: args
            .failed_deliveries
            .or(scenario.report.failed_deliveries)
            .unwrap_or(DEFAULT_FAILED_DELIVERIES),
    };
    let stats = runner::run(target, &phases, &scenario.faults, seed, shard, progress).await;
    ticker.abort();

    let mut report = Report {
        scenario: scenario.name.clone(),
        shards: vec![shard.to_string()],
        target: if receiver.is_some() {
            "the built-in receiver".to_owned()
        } else {
            url.to_string()
        },
        started_at,
        thresholds: scenario
            .thresholds
            .iter()
            .map(|t| t.get_ref().clone())
            .collect(),
        steps,
        memory: BTreeMap::from([(shard.to_string(), stats.rss_mib.clone())]),
        stats,
        verdicts: Vec::new(),
    };
    report.evaluate();
    if let Some(receiver) = receiver {
        receiver.stop().await;
    }
    write_outputs(
        &report,
        args.out.as_ref(),
        args.junit.as_ref(),
        args.html.as_ref(),
    )?;
    println!("{}", report.text());
    if args.print_report {
        println!("{REPORT_BEGIN}");
        println!(
            "{}",
            serde_json::to_string(&report).expect("reports serialize")
        );
        println!("{REPORT_END}");
    }
    Ok(if report.passed() {
        exit::OK
    } else {
        THRESHOLD_BREACHED
    })
}

/// The line before a report printed by `run --print-report`.
pub const REPORT_BEGIN: &str = "----- inboxkit-mock report (JSON) -----";
/// The line after it.
pub const REPORT_END: &str = "----- end of inboxkit-mock report -----";

/// `i/n`, or `env:VAR/n` with the 0-based index in variable VAR (`lookup` reads variables).
fn resolve_shard(text: &str, lookup: impl Fn(&str) -> Option<String>) -> Result<Shard, String> {
    let Some(rest) = text.strip_prefix("env:") else {
        return text.parse();
    };
    let (name, count) = rest.split_once('/').ok_or_else(|| {
        format!("`{text}` is not env:VARIABLE/COUNT (e.g. env:JOB_COMPLETION_INDEX/4)")
    })?;
    let value = lookup(name)
        .ok_or_else(|| format!("the environment variable {name} (named by `{text}`) is not set"))?;
    let index: u32 = value.trim().parse().map_err(|_| {
        format!("the environment variable {name} is `{value}`, not a 0-based shard index")
    })?;
    format!("{}/{count}", u64::from(index) + 1)
        .parse()
        .map_err(|e: String| format!("{name}={value} with `{text}`: {e}"))
}

/// Runs the world set-up and the functional steps against an in-process mock server (the same
/// REST and control APIs `serve` offers), its clock paused so that only `advance` moves time.
/// Its deliveries go to the scenario's subscriber, signed with `target_key` (the key `--secret`,
/// `--api-key` or the scenario chose, as for load phases); with no target, to the server's own
/// built-in receiver, which gets the scenario's receiver faults.
async fn run_steps(
    scenario: &Scenario,
    subscriber: &Subscriber,
    target_key: Option<&Secret>,
    profile: Profile,
    seed: u64,
) -> Result<Vec<StepResult>, CliError> {
    let clock = Clock::scaled(scenario.target.time_scale.unwrap_or(1.0))
        .map_err(|e| CliError::usage(format!("target.time_scale: {e}")))?;
    clock.pause();
    let api_key = Secret::new(random_token());
    let mut config = ServerConfig::new(seed, clock, api_key.clone(), Secret::new(random_token()));
    let mut settings = SubscriberSettings::from_profile(
        profile,
        Secret::new(random_token()),
        api_key.clone(),
        Secret::new(random_token()),
    );
    settings.signature_scheme = subscriber.signer.scheme();
    settings.payload_shape = scenario
        .target
        .payload_shape
        .unwrap_or(settings.payload_shape);
    settings.timeout = subscriber.timeout;
    settings.retry_delays = subscriber.policy.delays.clone();
    settings.send_authorization = subscriber.bearer.is_some();
    if let Some(key) = target_key {
        settings.url = Some(subscriber.url.clone());
        // The same key signs as for load phases: as the webhook secret or the API key, by scheme.
        settings.secret = key.clone();
        settings.api_key = key.clone();
        config.builtin_receiver = false;
    }
    config.subscriber = settings;
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("binding the in-process mock server")?;
    let server =
        RunningServer::start(listener, config).context("starting the in-process mock server")?;
    if let Some(receiver) = server.receiver() {
        receiver.set_faults(scenario.receiver_faults());
    }
    let results = StepRunner::new(&server.base_url(), api_key.expose(), seed)
        .run(scenario)
        .await;
    server.shutdown(Duration::from_secs(5)).await;
    Ok(results)
}

/// Writes the optional JSON, JUnit and HTML files of a report.
pub fn write_outputs(
    report: &Report,
    out: Option<&PathBuf>,
    junit: Option<&PathBuf>,
    html_path: Option<&PathBuf>,
) -> Result<(), CliError> {
    if let Some(path) = out {
        let json = serde_json::to_vec_pretty(report).expect("reports serialize");
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = junit {
        std::fs::write(path, report.junit())
            .with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = html_path {
        std::fs::write(path, html::render(report))
            .with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// A progress bar on a terminal, a plain line every five seconds otherwise.
async fn show_progress(progress: Arc<Progress>) {
    if std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{elapsed_precise} [{bar:40}] {pos}/{len} events finished {msg}",
            )
            .expect("valid template")
            .progress_chars("=> "),
        );
        loop {
            bar.set_length(progress.planned.load(Ordering::Relaxed));
            bar.set_position(progress.finished.load(Ordering::Relaxed));
            bar.set_message(format!("({} sent)", progress.sent.load(Ordering::Relaxed)));
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    } else {
        loop {
            tokio::time::sleep(Duration::from_secs(5)).await;
            eprintln!(
                "progress: {} of {} events sent, {} finished",
                progress.sent.load(Ordering::Relaxed),
                progress.planned.load(Ordering::Relaxed),
                progress.finished.load(Ordering::Relaxed)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_and_localhost_are_this_machine() {
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.9.9.9/",
            "http://[::1]:3000/webhooks",
            "http://localhost:3000/",
            "https://LOCALHOST./",
            "http://api.localhost/",
            "http://[::ffff:127.0.0.1]:8080/",
            "http://0.0.0.0:3000/",
            "http://[::]:3000/",
        ] {
            assert!(is_this_machine(url), "{url}");
        }
        for url in [
            "http://10.0.0.5/hook",
            "https://hooks.example.com/",
            "http://localhost.example.com/",
            "http://[2001:db8::1]/",
            "not a url",
        ] {
            assert!(!is_this_machine(url), "{url}");
        }
    }

    #[test]
    fn threads_are_halved_for_a_subscriber_on_this_machine() {
        use clap::Parser;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: Args,
        }
        let parse = |extra: &[&str]| {
            let mut argv = vec!["run", "missing-scenario.toml"];
            argv.extend_from_slice(extra);
            Cli::try_parse_from(argv).expect("valid arguments").args
        };
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        assert_eq!(worker_threads(&mut parse(&["--threads", "3"])), 3);
        assert_eq!(
            worker_threads(&mut parse(&["--target", "http://127.0.0.1:1/"])),
            (cores / 2).max(1)
        );
        assert_eq!(
            worker_threads(&mut parse(&["--target", "https://hooks.example.com/"])),
            cores
        );
        // No target anywhere: the built-in receiver, in this process.
        assert_eq!(worker_threads(&mut parse(&[])), (cores / 2).max(1));
        assert!(Cli::try_parse_from(["run", "s.toml", "--threads", "0"]).is_err());
    }

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn a_shard_comes_from_the_command_line_or_a_0_based_variable() {
        let none = env(&[]);
        assert_eq!(resolve_shard("2/4", &none).unwrap().to_string(), "2/4");
        let job = env(&[("JOB_COMPLETION_INDEX", "0")]);
        assert_eq!(
            resolve_shard("env:JOB_COMPLETION_INDEX/4", &job)
                .unwrap()
                .to_string(),
            "1/4"
        );
        let last = env(&[("JOB_COMPLETION_INDEX", "3")]);
        assert_eq!(
            resolve_shard("env:JOB_COMPLETION_INDEX/4", &last)
                .unwrap()
                .to_string(),
            "4/4"
        );
        let past = env(&[("JOB_COMPLETION_INDEX", "4")]);
        assert!(resolve_shard("env:JOB_COMPLETION_INDEX/4", &past).is_err());
        let error = resolve_shard("env:JOB_COMPLETION_INDEX/4", &none).unwrap_err();
        assert!(
            error.contains("JOB_COMPLETION_INDEX") && error.contains("not set"),
            "{error}"
        );
        let error = resolve_shard("env:X/4", env(&[("X", "two")])).unwrap_err();
        assert!(error.contains("`two`"), "{error}");
    }
}
