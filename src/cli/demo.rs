//! `demo`: a domain and a mailbox walk their typical lifecycles into a built-in receiver.

use std::sync::Arc;

use anyhow::Context;

use inboxkit_mock::contract::{
    Account, Change, DomainStatus, Entity, Envelope, MailboxStatus, PayloadShape, Platform,
    Profile, Secret, Signer,
};
use inboxkit_mock::delivery::{
    OutgoingEvent, RetryPolicy, Sender, SenderOptions, Subscriber, TerminalState,
};
use inboxkit_mock::model::Faker;
use inboxkit_mock::receiver::{ReceiverConfig, RunningReceiver};
use inboxkit_mock::simulation::Clock;
use inboxkit_mock::simulation::lifecycle::{DOMAIN, MAILBOX};
use inboxkit_mock::simulation::transition::{advance_domain, advance_mailbox};

use super::contract_args::random_token;
use super::{CliError, exit, render};

/// Options of `demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Contract profile to demonstrate.
    #[arg(long, value_enum, default_value_t = Profile::Seed)]
    profile: Profile,
    /// Seed for the fake domain and mailbox.
    #[arg(long, default_value_t = 2024)]
    seed: u64,
    /// Simulated seconds per real second (retries and deadlines are scaled by it).
    #[arg(long, default_value_t = 60.0)]
    time_scale: f64,
}

/// Runs the demo and prints the journal; exit 0 when every event was delivered and verified.
pub async fn run(args: Args) -> Result<u8, CliError> {
    let settings = args.profile.settings();
    let key = Secret::new(random_token());
    let signer = Signer::new(settings.signature_scheme, key);
    let receiver = RunningReceiver::start_local(ReceiverConfig {
        verifier: Some(signer.clone()),
        ..ReceiverConfig::default()
    })
    .context("starting the built-in receiver")?;
    let clock = Clock::scaled(args.time_scale)
        .map_err(|e| CliError::usage(format!("--time-scale: {e}")))?;
    let subscriber = Arc::new(Subscriber {
        url: receiver.webhook_url(),
        signer,
        bearer: settings
            .send_authorization
            .then(|| Secret::new(random_token())),
        timeout: settings.timeout,
        policy: RetryPolicy::default(),
        mock_headers: true,
    });
    println!(
        "inboxkit-mock demo: profile {:?}, built-in receiver at {} verifying {} signatures (random key)\n",
        args.profile, subscriber.url, settings.signature_scheme
    );
    let sender =
        Sender::new(clock.clone(), SenderOptions::default()).map_err(anyhow::Error::from)?;
    let mut faker = Faker::seeded(args.seed);
    let account = faker.account();
    let shape = settings.payload_shape;

    let mut domain = faker.purchased_domain(None, 1, clock.now());
    let mut mailbox = faker.mailbox(&domain.name, Platform::Google, clock.now());
    let mut events = Vec::new();
    for step in DOMAIN.typical_path(&DomainStatus::RegistrationInProgress) {
        clock.advance(step.after).map_err(anyhow::Error::from)?;
        let change =
            advance_domain(&mut domain, &step.to, shape).expect("typical steps are allowed");
        events.push(envelope(
            shape,
            &account,
            Entity::Domain(domain.clone()),
            &change,
            &clock,
        ));
    }
    domain.assigned_mailboxes += 1;
    domain.available_mailboxes -= 1;
    for step in MAILBOX.typical_path(&MailboxStatus::Scheduled) {
        clock.advance(step.after).map_err(anyhow::Error::from)?;
        let change =
            advance_mailbox(&mut mailbox, &step.to, shape).expect("typical steps are allowed");
        events.push(envelope(
            shape,
            &account,
            Entity::Mailbox(mailbox.clone()),
            &change,
            &clock,
        ));
    }

    let mut records = Vec::new();
    for event in &events {
        records.push(
            sender
                .deliver(subscriber.clone(), OutgoingEvent::from_envelope(event))
                .await,
        );
    }
    print!("{}", render::table(&records));

    let delivered = records
        .iter()
        .filter(|r| r.state.terminal() == Some(TerminalState::Delivered))
        .count();
    let attempts: usize = records.iter().map(|r| r.attempts.len()).sum();
    let received = receiver.store().all();
    let verified = received
        .iter()
        .filter(|r| r.signature_valid == Some(true))
        .count();
    println!(
        "\n{} events: {delivered} delivered, {} not; {attempts} attempts; the receiver verified {verified} of {} signatures",
        records.len(),
        records.len() - delivered,
        received.len()
    );
    println!(
        "next: `inboxkit-mock send --to URL --secret S` sends one event to your own subscriber"
    );
    receiver.stop().await;
    Ok(
        if delivered == records.len() && verified == received.len() {
            exit::OK
        } else {
            exit::RUNTIME
        },
    )
}

fn envelope(
    shape: PayloadShape,
    account: &Account,
    entity: Entity,
    change: &Change,
    clock: &Clock,
) -> Envelope {
    Envelope::status_changed(shape, account, entity, change, clock.now())
}
