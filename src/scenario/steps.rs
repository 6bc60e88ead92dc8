//! Runs a scenario's world set-up and functional steps against a mock server, through the same
//! REST and control APIs a user's application and test suite call.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};

use super::spec::{Expectation, Scenario, Step};
use crate::model::Faker;

/// The outcome of one functional step.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StepResult {
    /// Position and kind, e.g. `steps[2] expect`.
    pub step: String,
    /// Whether it passed.
    pub pass: bool,
    /// What was observed.
    pub detail: String,
}

/// How often `expect` looks at the journal.
const POLL: Duration = Duration::from_millis(20);

/// An entity a step named with `as`.
#[derive(Debug, Clone)]
struct Named {
    uid: String,
    /// Domain name, for domains (mailboxes are bought on a domain's name).
    name: Option<String>,
}

/// Drives one server: `base` is its root URL, `api_key` the team key its REST API wants.
#[derive(Debug)]
pub struct StepRunner {
    client: reqwest::Client,
    base: String,
    api_key: String,
    names: HashMap<String, Named>,
    faker: Faker,
    domains: Vec<Named>,
}

/// A failed step: what went wrong, in words.
type Failure = String;

impl StepRunner {
    /// A runner for the server at `base` (e.g. `http://127.0.0.1:8025`).
    pub fn new(base: &str, api_key: &str, seed: u64) -> Self {
        StepRunner {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a plain client builds"),
            base: base.trim_end_matches('/').to_owned(),
            api_key: api_key.to_owned(),
            names: HashMap::new(),
            faker: Faker::seeded(seed ^ 0x5EED),
            domains: Vec::new(),
        }
    }

    /// Creates the world's domains and mailboxes, then runs every step in order; stops at the
    /// first failed step (later steps would only fail for the same reason).
    pub async fn run(&mut self, scenario: &Scenario) -> Vec<StepResult> {
        let mut results = Vec::new();
        if scenario.world.domains > 0 || scenario.world.mailboxes > 0 {
            let outcome = self
                .world(scenario.world.domains, scenario.world.mailboxes)
                .await;
            let pass = outcome.is_ok();
            results.push(StepResult {
                step: "world".to_owned(),
                pass,
                detail: outcome.unwrap_or_else(|e| e),
            });
            if !pass {
                return results;
            }
        }
        for (index, step) in scenario.steps.iter().enumerate() {
            let outcome = self.step(step).await;
            let pass = outcome.is_ok();
            results.push(StepResult {
                step: format!("steps[{index}] {}", step_name(step)),
                pass,
                detail: outcome.unwrap_or_else(|e| e),
            });
            if !pass {
                break;
            }
        }
        results
    }

    async fn world(&mut self, domains: usize, mailboxes: usize) -> Result<String, Failure> {
        for _ in 0..domains.max(usize::from(mailboxes > 0)) {
            self.register(None).await?;
        }
        for index in 0..mailboxes {
            let domain = self.domains[index % self.domains.len()].clone();
            self.buy(&domain, None, None).await?;
        }
        Ok(format!(
            "{} domains and {mailboxes} mailboxes registered",
            self.domains.len()
        ))
    }

    async fn step(&mut self, step: &Step) -> Result<String, Failure> {
        match step {
            Step::RegisterDomain { name, alias } => {
                let domain = self.register(name.clone()).await?;
                self.remember(alias, &domain);
                Ok(format!(
                    "{} ({})",
                    domain.uid,
                    domain.name.unwrap_or_default()
                ))
            }
            Step::BuyMailbox {
                domain,
                username,
                platform,
                alias,
            } => {
                let domain = self.resolve_domain(domain)?;
                let mailbox = self
                    .buy(&domain, username.clone(), platform.clone())
                    .await?;
                self.remember(alias, &mailbox);
                Ok(mailbox.uid)
            }
            Step::Transition { entity, to } => {
                let uid = self.resolve(entity);
                let kind =
                    kind_of(&uid).ok_or_else(|| format!("`{uid}` is not a uid the mock issues"))?;
                let answer = self
                    .call(
                        self.client
                            .post(format!("{}/_mock/{kind}/{uid}/transition", self.base))
                            .json(&json!({"to": to})),
                    )
                    .await?;
                Ok(format!(
                    "{uid} -> {to} ({})",
                    answer["status"].as_str().unwrap_or(to)
                ))
            }
            Step::Trigger { event, entity, set } => {
                let set: serde_json::Map<String, Value> = set
                    .iter()
                    .map(|(path, value)| {
                        (
                            path.clone(),
                            serde_json::to_value(value).unwrap_or(Value::Null),
                        )
                    })
                    .collect();
                let mut body = json!({"event": event, "set": set});
                if let Some(entity) = entity {
                    body["uid"] = Value::String(self.resolve(entity));
                }
                let answer = self
                    .call(
                        self.client
                            .post(format!("{}/_mock/events", self.base))
                            .json(&body),
                    )
                    .await?;
                Ok(format!(
                    "{event} sent ({})",
                    answer["delivery_id"]
                        .as_str()
                        .or(answer["id"].as_str())
                        .unwrap_or("queued")
                ))
            }
            Step::Advance(by) => {
                let answer = self
                    .call(
                        self.client
                            .post(format!("{}/_mock/clock/advance", self.base))
                            .json(&json!({"by": by.get_ref()})),
                    )
                    .await?;
                Ok(format!(
                    "clock advanced by {}; {} transitions fired, {} attempts made",
                    by.get_ref(),
                    answer["fired"].as_u64().unwrap_or(0),
                    answer["advanced"]["attempts_made"].as_u64().unwrap_or(0)
                ))
            }
            Step::Expect(expectation) => self.expect(expectation).await,
        }
    }

    async fn register(&mut self, name: Option<String>) -> Result<Named, Failure> {
        let name = name.unwrap_or_else(|| self.faker.domain_name());
        let answer = self
            .rest(
                "/domains/register",
                json!({"domains": [{"name": name, "registration_years": 1}]}),
            )
            .await?;
        let uid = answer["domain_uids"][0]
            .as_str()
            .ok_or_else(|| format!("register answered without domain_uids: {answer}"))?
            .to_owned();
        let domain = Named {
            uid,
            name: Some(name),
        };
        self.domains.push(domain.clone());
        Ok(domain)
    }

    async fn buy(
        &mut self,
        domain: &Named,
        username: Option<String>,
        platform: Option<String>,
    ) -> Result<Named, Failure> {
        let domain_name = domain.name.clone().unwrap_or_default();
        let sample = self.faker.mailbox(
            &domain_name,
            crate::contract::Platform::Google,
            chrono::Utc::now(),
        );
        let order = json!({"mailboxes": [{
            "first_name": sample.first_name,
            "last_name": sample.last_name,
            "username": username.unwrap_or(sample.username),
            "platform": platform.unwrap_or_else(|| "GOOGLE".to_owned()),
            "domain_name": domain_name,
        }]});
        let answer = self.rest("/mailboxes/buy", order).await?;
        let uid = answer["mailboxes"][0]["uid"]
            .as_str()
            .ok_or_else(|| format!("buy answered without mailboxes[0].uid: {answer}"))?;
        Ok(Named {
            uid: uid.to_owned(),
            name: None,
        })
    }

    async fn expect(&self, expectation: &Expectation) -> Result<String, Failure> {
        let within = humantime::parse_duration(expectation.within.get_ref()).unwrap_or_default();
        let deadline = tokio::time::Instant::now() + within;
        let mut url = reqwest::Url::parse(&format!("{}/_mock/deliveries", self.base))
            .map_err(|e| e.to_string())?;
        url.query_pairs_mut().append_pair("limit", "1000");
        if let Some(entity) = &expectation.entity {
            url.query_pairs_mut()
                .append_pair("uid", &self.resolve(entity));
        }
        if let Some(event) = &expectation.event {
            url.query_pairs_mut().append_pair("event", event);
        }
        loop {
            let answer = self.call(self.client.get(url.clone())).await?;
            let deliveries = answer["deliveries"].as_array().cloned().unwrap_or_default();
            let verdict = judge(expectation, &deliveries);
            if verdict.is_ok() || tokio::time::Instant::now() >= deadline {
                let why = match verdict {
                    Ok(passed) => return Ok(passed),
                    Err(why) => why,
                };
                let rejected = self.why_rejected(&deliveries).await;
                return Err(format!(
                    "{why} after waiting {}{rejected}",
                    expectation.within.get_ref()
                ));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// Why the subscriber rejected the first rejected delivery, when one was: its answer's
    /// status and, for 401 and 403, the likely cause.
    async fn why_rejected(&self, deliveries: &[Value]) -> String {
        let Some(id) = deliveries
            .iter()
            .find(|d| d["state"] == "rejected")
            .and_then(|d| d["id"].as_str())
        else {
            return String::new();
        };
        let url = format!("{}/_mock/deliveries/{id}", self.base);
        let Ok(record) = self.call(self.client.get(url)).await else {
            return String::new();
        };
        let last = record["attempts"]
            .as_array()
            .and_then(|attempts| attempts.last())
            .cloned()
            .unwrap_or(Value::Null);
        match last["response"]["status"].as_u64() {
            Some(status @ (401 | 403)) => format!(
                "; the subscriber rejected delivery {id} with HTTP {status}: the signature or key \
                 may not match the subscriber's (give `run` the subscriber's key with --secret, \
                 or --api-key for the api-key-sha256 scheme, and the profile with --profile)"
            ),
            Some(status) => format!("; the subscriber rejected delivery {id} with HTTP {status}"),
            None => format!(
                "; delivery {id} was rejected ({})",
                last["outcome"].as_str().unwrap_or("no answer")
            ),
        }
    }

    fn remember(&mut self, alias: &Option<String>, entity: &Named) {
        if let Some(alias) = alias {
            self.names.insert(alias.clone(), entity.clone());
        }
    }

    /// `$alias` to its uid; anything else is taken as a uid.
    fn resolve(&self, reference: &str) -> String {
        reference
            .strip_prefix('$')
            .and_then(|alias| self.names.get(alias))
            .map_or_else(|| reference.to_owned(), |named| named.uid.clone())
    }

    fn resolve_domain(&self, reference: &str) -> Result<Named, Failure> {
        if let Some(alias) = reference.strip_prefix('$') {
            return self
                .names
                .get(alias)
                .filter(|n| n.name.is_some())
                .cloned()
                .ok_or_else(|| {
                    format!("no domain was registered `as = \"{alias}\"` in an earlier step")
                });
        }
        Ok(self
            .domains
            .iter()
            .find(|d| d.name.as_deref() == Some(reference) || d.uid == reference)
            .cloned()
            .unwrap_or(Named {
                uid: String::new(),
                name: Some(reference.to_owned()),
            }))
    }

    async fn rest(&self, path: &str, body: Value) -> Result<Value, Failure> {
        let answer = self
            .call(
                self.client
                    .post(format!("{}/v1/api{path}", self.base))
                    .bearer_auth(&self.api_key)
                    .json(&body),
            )
            .await?;
        if answer["error"] == true {
            return Err(format!(
                "{path}: {}",
                answer["message"].as_str().unwrap_or("error")
            ));
        }
        Ok(answer)
    }

    async fn call(&self, request: reqwest::RequestBuilder) -> Result<Value, Failure> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("the mock server did not answer: {e}"))?;
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            Ok(body)
        } else {
            let detail = body["detail"]
                .as_str()
                .or(body["message"].as_str())
                .map_or_else(|| body.to_string(), str::to_owned);
            Err(format!("HTTP {}: {detail}", status.as_u16()))
        }
    }
}

/// Checks an expectation against delivery summaries (journal order).
fn judge(expectation: &Expectation, deliveries: &[Value]) -> Result<String, Failure> {
    let statuses: Vec<&str> = deliveries
        .iter()
        .filter_map(|d| d["status"].as_str())
        .collect();
    if !expectation.statuses.is_empty() && statuses != expectation.statuses {
        return Err(format!(
            "statuses were [{}], expected [{}]",
            statuses.join(", "),
            expectation.statuses.join(", ")
        ));
    }
    if let Some(count) = expectation.count
        && deliveries.len() != count
    {
        return Err(format!("{} deliveries, expected {count}", deliveries.len()));
    }
    if let Some(state) = expectation.state {
        let wanted = serde_json::to_value(state).unwrap_or(Value::Null);
        if deliveries.is_empty() || deliveries.iter().any(|d| d["state"] != wanted) {
            let states: Vec<String> = deliveries
                .iter()
                .map(|d| d["state"].as_str().unwrap_or("?").to_owned())
                .collect();
            return Err(format!(
                "states were [{}], expected all {}",
                states.join(", "),
                wanted.as_str().unwrap_or("?")
            ));
        }
    }
    if deliveries.is_empty() && expectation.count != Some(0) {
        return Err("no matching deliveries".to_owned());
    }
    Ok(format!(
        "{} deliveries: {}",
        deliveries.len(),
        statuses.join(", ")
    ))
}

fn kind_of(uid: &str) -> Option<&'static str> {
    [
        ("domain-", "domains"),
        ("mailbox-", "mailboxes"),
        ("consent-", "consent_requests"),
        ("clientid-", "client_id_requests"),
    ]
    .iter()
    .find(|(prefix, _)| uid.starts_with(prefix))
    .map(|(_, kind)| *kind)
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::RegisterDomain { .. } => "register_domain",
        Step::BuyMailbox { .. } => "buy_mailbox",
        Step::Transition { .. } => "transition",
        Step::Trigger { .. } => "trigger",
        Step::Advance(_) => "advance",
        Step::Expect(_) => "expect",
    }
}
