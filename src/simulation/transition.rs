//! Applying a lifecycle step to an entity: new status, derived fields, and the change report.

use serde::Serialize;
use serde_json::Value;

use super::fields::Fields;
use super::lifecycle::{DOMAIN, Lifecycle, MAILBOX, REQUEST, Step, StepKind};
use crate::contract::{
    Change, ClientIdRequest, ConsentRequest, DnsPropagationStatus, Domain, DomainStatus, Entity,
    Failure, Mailbox, MailboxStatus, PayloadShape, RenewalStatus, RequestStatus,
};
use crate::model::fake::status_text;
use crate::model::world::{EntityRef, World};

/// A transition that the table does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {entity} cannot go from `{from}` to `{to}`; allowed from `{from}`: {}", if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") })]
pub struct IllegalTransition {
    /// Entity kind.
    pub entity: &'static str,
    /// Current status.
    pub from: String,
    /// Requested status.
    pub to: String,
    /// Statuses that are allowed from `from`.
    pub allowed: Vec<String>,
}

fn find<'a, S: PartialEq + Clone + std::fmt::Display>(
    table: &'a Lifecycle<S>,
    from: &S,
    to: &S,
) -> Result<&'a Step<S>, IllegalTransition> {
    table.step(from, to).ok_or_else(|| IllegalTransition {
        entity: table.entity,
        from: from.to_string(),
        to: to.to_string(),
        allowed: table
            .allowed_from(from)
            .iter()
            .map(ToString::to_string)
            .collect(),
    })
}

fn change<S>(step: &Step<S>) -> Change {
    Change {
        reason: step.reason.to_owned(),
        changed_fields: step
            .changed_fields
            .iter()
            .map(|f| (*f).to_owned())
            .collect(),
        triggered_by: step.triggered_by(),
        // A variant's code names the option that chose it; it is not a failure.
        failure: step
            .failure
            .filter(|_| step.kind != StepKind::Variant)
            .map(|f| Failure {
                error_code: f.code.to_owned(),
                action_required: f.action_required,
                retry_available: f.retry_available,
            }),
    }
}

/// The fields whose values differ between `before` and `after`, `status` first, then in field
/// order; `previous_status` is left out (it changes with every status and the seed example does
/// not list it). Credentials appearing count as changes of their fields.
pub fn changed_fields<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Some(before_fields), Some(after_fields)) = (Fields::of(before), Fields::of(after)) else {
        return changed_fields_by_tree(before, after);
    };
    let mut fields = vec!["status".to_owned()];
    for (index, (key, text)) in after_fields.iter().enumerate() {
        if key != "status"
            && key != "previous_status"
            && before_fields.get(key, index) != Some(text)
        {
            fields.push(key.to_owned());
        }
    }
    fields
}

/// [`changed_fields`] through JSON trees: for values that are not structs, and the reference
/// its field-by-field reading is tested against.
fn changed_fields_by_tree<T: Serialize>(before: &T, after: &T) -> Vec<String> {
    let (Ok(before), Ok(after)) = (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return vec!["status".to_owned()];
    };
    let (Value::Object(before), Value::Object(after)) =
        (unwrap_entity(before), unwrap_entity(after))
    else {
        return vec!["status".to_owned()];
    };
    let mut fields = vec!["status".to_owned()];
    for (key, value) in &after {
        if key != "status" && key != "previous_status" && before.get(key) != Some(value) {
            fields.push(key.clone());
        }
    }
    fields
}

/// The object inside an [`Entity`]'s serialization (`{"domain": {...}}` -> `{...}`).
fn unwrap_entity(value: Value) -> Value {
    match value {
        Value::Object(map) if map.len() == 1 && map.values().all(Value::is_object) => map
            .into_iter()
            .next()
            .map_or(Value::Null, |(_, inner)| inner),
        other => other,
    }
}

/// The entity as a subscriber of `shape` sees it: the seed page spells propagated DNS
/// `completed` and a renewal not yet due `not_due`; the newer docs say `propagated` and `na`.
pub fn for_shape(entity: &mut Entity, shape: PayloadShape) {
    let (dns, renewal) = match entity {
        Entity::Domain(d) => (&mut d.dns_propagation_status, &mut d.renewal_status),
        Entity::Mailbox(m) => (&mut m.dns_propagation_status, &mut m.renewal_status),
        Entity::ConsentRequest(_) | Entity::ClientIdRequest(_) => return,
    };
    match shape {
        PayloadShape::Seed => {
            if *dns == DnsPropagationStatus::Propagated {
                *dns = DnsPropagationStatus::Completed;
            }
            if *renewal == RenewalStatus::Na {
                *renewal = RenewalStatus::NotDue;
            }
        }
        PayloadShape::Current => {
            if *dns == DnsPropagationStatus::Completed {
                *dns = DnsPropagationStatus::Propagated;
            }
            if *renewal == RenewalStatus::NotDue {
                *renewal = RenewalStatus::Na;
            }
        }
    }
}

/// The renewal status a step leaves behind, if it sets one.
fn renewal_after<S>(step: &Step<S>, renewed: bool) -> Option<RenewalStatus> {
    if step.kind == StepKind::Renewal {
        Some(RenewalStatus::Failed)
    } else if renewed {
        Some(RenewalStatus::Completed)
    } else {
        None
    }
}

/// The DNS propagation value a status implies, if it implies one.
fn dns_for_domain(status: &DomainStatus, shape: PayloadShape) -> Option<DnsPropagationStatus> {
    match status {
        DomainStatus::WaitingForDnsPropagation | DomainStatus::Pending => {
            Some(DnsPropagationStatus::Waiting)
        }
        // The seed example reports `completed`; the newer docs list `propagated`.
        DomainStatus::Active => Some(match shape {
            PayloadShape::Seed => DnsPropagationStatus::Completed,
            PayloadShape::Current => DnsPropagationStatus::Propagated,
        }),
        _ => None,
    }
}

/// Moves a domain to `to` if the table allows it.
pub fn advance_domain(
    domain: &mut Domain,
    to: &DomainStatus,
    shape: PayloadShape,
) -> Result<Change, IllegalTransition> {
    let before = domain.clone();
    let mut report = change(apply_domain_step(domain, to, shape)?);
    report.changed_fields = changed_fields(&before, domain);
    Ok(report)
}

/// Moves a domain to `to` as [`advance_domain`] does, without its change report (whose changed
/// fields compare the whole entity before and after): for steps nobody is told about, such as
/// the ones before the last of a sample's path.
pub fn walk_domain(
    domain: &mut Domain,
    to: &DomainStatus,
    shape: PayloadShape,
) -> Result<(), IllegalTransition> {
    apply_domain_step(domain, to, shape).map(drop)
}

fn apply_domain_step(
    domain: &mut Domain,
    to: &DomainStatus,
    shape: PayloadShape,
) -> Result<&'static Step<DomainStatus>, IllegalTransition> {
    let step = find(&DOMAIN, &domain.status, to)?;
    if step
        .failure
        .is_some_and(|f| f.code == "dns_propagation_failed")
    {
        domain.dns_propagation_status = DnsPropagationStatus::Failed;
    } else if step.kind == StepKind::Variant {
        // Observed live: announced `active` while DNS is still pending.
    } else if let Some(dns) = dns_for_domain(to, shape) {
        domain.dns_propagation_status = dns;
    }
    let renewed = domain.status == DomainStatus::PaymentFailed
        && *to == DomainStatus::Active
        && domain.renewal_status == RenewalStatus::Failed;
    if let Some(renewal) = renewal_after(step, renewed) {
        domain.renewal_status = renewal;
    }
    domain.previous_status = Some(std::mem::replace(&mut domain.status, to.clone()));
    Ok(step)
}

/// Moves a mailbox to `to` if the table allows it.
pub fn advance_mailbox(
    mailbox: &mut Mailbox,
    to: &MailboxStatus,
    shape: PayloadShape,
) -> Result<Change, IllegalTransition> {
    let before = mailbox.clone();
    let mut report = change(apply_mailbox_step(mailbox, to, shape)?);
    report.changed_fields = changed_fields(&before, mailbox);
    Ok(report)
}

/// Moves a mailbox to `to` as [`advance_mailbox`] does, without its change report (see
/// [`walk_domain`]).
pub fn walk_mailbox(
    mailbox: &mut Mailbox,
    to: &MailboxStatus,
    shape: PayloadShape,
) -> Result<(), IllegalTransition> {
    apply_mailbox_step(mailbox, to, shape).map(drop)
}

fn apply_mailbox_step(
    mailbox: &mut Mailbox,
    to: &MailboxStatus,
    shape: PayloadShape,
) -> Result<&'static Step<MailboxStatus>, IllegalTransition> {
    let step = find(&MAILBOX, &mailbox.status, to)?;
    match to {
        MailboxStatus::ConfiguringWorkspace
        | MailboxStatus::ConfiguringDns
        | MailboxStatus::WaitingForDnsPropagation => {
            mailbox.dns_propagation_status = DnsPropagationStatus::Waiting;
        }
        MailboxStatus::Active => {
            mailbox.dns_propagation_status = match shape {
                PayloadShape::Seed => DnsPropagationStatus::Completed,
                PayloadShape::Current => DnsPropagationStatus::Propagated,
            };
            if mailbox.status == MailboxStatus::ScheduledForCancellation {
                mailbox.mailbox_cancellation_status = None;
            }
        }
        MailboxStatus::ScheduledForCancellation => {
            mailbox.mailbox_cancellation_status = Some("pending".to_owned());
        }
        MailboxStatus::Cancelled => {
            mailbox.mailbox_cancellation_status = Some("completed".to_owned());
        }
        _ => {}
    }
    let renewed = mailbox.status == MailboxStatus::RenewalFailed && *to == MailboxStatus::Active;
    if let Some(renewal) = renewal_after(step, renewed) {
        mailbox.renewal_status = renewal;
    }
    mailbox.previous_status = Some(std::mem::replace(&mut mailbox.status, to.clone()));
    Ok(step)
}

/// Moves a consent or client-ID request's status to `to` if the table allows it.
fn advance_request(
    status: &mut RequestStatus,
    text: &mut String,
    reason: &mut Option<String>,
    to: &RequestStatus,
) -> Result<Change, IllegalTransition> {
    let step = find(&REQUEST, status, to)?;
    *status = to.clone();
    let new_text = status_text(to);
    let text_changed = *text != new_text;
    *text = new_text;
    *reason = step.failure.map(|f| f.code.to_owned());
    let mut change = change(step);
    // `changed_fields` lists every field that changed: the text follows the status.
    if text_changed && !change.changed_fields.iter().any(|f| f == "status_text") {
        let after_status = change
            .changed_fields
            .iter()
            .position(|f| f == "status")
            .map_or(0, |i| i + 1);
        change
            .changed_fields
            .insert(after_status, "status_text".to_owned());
    }
    Ok(change)
}

/// Moves a consent request to `to`.
pub fn advance_consent(
    request: &mut ConsentRequest,
    to: &RequestStatus,
) -> Result<Change, IllegalTransition> {
    advance_request(
        &mut request.status,
        &mut request.status_text,
        &mut request.status_reason,
        to,
    )
}

/// Moves a client-ID request to `to`.
pub fn advance_client_id(
    request: &mut ClientIdRequest,
    to: &RequestStatus,
) -> Result<Change, IllegalTransition> {
    advance_request(
        &mut request.status,
        &mut request.status_text,
        &mut request.status_reason,
        to,
    )
}

/// Moves any entity to the status named `to` (wire spelling).
pub fn advance_entity(
    entity: &mut Entity,
    to: &str,
    shape: PayloadShape,
) -> Result<Change, IllegalTransition> {
    match entity {
        Entity::Domain(d) => advance_domain(d, &DomainStatus::parse(to), shape),
        Entity::Mailbox(m) => advance_mailbox(m, &MailboxStatus::parse(to), shape),
        Entity::ConsentRequest(c) => advance_consent(c, &RequestStatus::parse(to)),
        Entity::ClientIdRequest(c) => advance_client_id(c, &RequestStatus::parse(to)),
    }
}

/// Moves `entity` of `world` to `to` if its lifecycle allows it and writes it back; returns the
/// new object and the change (a refused step changes nothing).
pub fn transition_in(
    world: &mut World,
    entity: EntityRef,
    to: &str,
    shape: PayloadShape,
) -> Result<(Entity, Change), IllegalTransition> {
    let before = world.entity(entity);
    let mut object = before.clone();
    let mut change = advance_entity(&mut object, to, shape)?;
    let (stored, provisioned) = world.store(entity, object);
    if provisioned && let (Entity::Mailbox(prior), Entity::Mailbox(after)) = (&before, &stored) {
        // The mailbox's credentials appeared with this change.
        change.changed_fields = changed_fields(prior, after);
    }
    Ok((stored, change))
}

/// The statuses `entity` may move to next.
pub fn allowed_next(entity: &Entity) -> Vec<String> {
    match entity {
        Entity::Domain(d) => DOMAIN
            .allowed_from(&d.status)
            .iter()
            .map(ToString::to_string)
            .collect(),
        Entity::Mailbox(m) => MAILBOX
            .allowed_from(&m.status)
            .iter()
            .map(ToString::to_string)
            .collect(),
        Entity::ConsentRequest(c) => REQUEST
            .allowed_from(&c.status)
            .iter()
            .map(ToString::to_string)
            .collect(),
        Entity::ClientIdRequest(c) => REQUEST
            .allowed_from(&c.status)
            .iter()
            .map(ToString::to_string)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Faker;
    use chrono::{DateTime, Utc};

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn a_domain_walks_its_typical_path() {
        let mut domain = Faker::seeded(1).purchased_domain(None, 1, now());
        let change = advance_domain(
            &mut domain,
            &DomainStatus::WaitingForDnsPropagation,
            PayloadShape::Seed,
        )
        .unwrap();
        assert_eq!(change.changed_fields, ["status", "dns_propagation_status"]);
        assert_eq!(domain.dns_propagation_status, DnsPropagationStatus::Waiting);
        advance_domain(&mut domain, &DomainStatus::Active, PayloadShape::Seed).unwrap();
        assert_eq!(
            domain.previous_status,
            Some(DomainStatus::WaitingForDnsPropagation)
        );
        assert_eq!(
            domain.dns_propagation_status,
            DnsPropagationStatus::Completed
        );
    }

    /// Every field of a domain and a mailbox that can take another value changed in turn, then
    /// all of them together, as entities and as bare objects: the field-by-field reading finds
    /// the changed names, and agrees with the JSON trees.
    #[test]
    fn changed_fields_are_found_field_by_field() {
        let mut faker = Faker::seeded(3);
        let domain = faker.purchased_domain(None, 1, now());
        let mailbox = faker.mailbox("x.com", crate::contract::Platform::Google, now());
        let checked = |before: &Entity, after: &Entity| {
            let fast = changed_fields(before, after);
            assert_eq!(fast, changed_fields_by_tree(before, after));
            if let (Entity::Domain(b), Entity::Domain(a)) = (before, after) {
                assert_eq!(changed_fields(b, a), fast);
            }
            if let (Entity::Mailbox(b), Entity::Mailbox(a)) = (before, after) {
                assert_eq!(changed_fields(b, a), fast);
            }
            fast
        };
        for entity in [Entity::Domain(domain), Entity::Mailbox(mailbox)] {
            let names: Vec<String> = match serde_json::to_value(&entity).unwrap() {
                Value::Object(o) => o
                    .values()
                    .flat_map(|v| v.as_object().unwrap().keys().cloned())
                    .collect(),
                other => panic!("an entity is an object: {other}"),
            };
            let mut changeable = Vec::new();
            for name in &names {
                let Some(changed) = object_with(&entity, |key| key == name.as_str()) else {
                    continue;
                };
                let expected: Vec<&str> = if name == "status" || name == "previous_status" {
                    vec!["status"]
                } else {
                    changeable.push(name.clone());
                    vec!["status", name]
                };
                assert_eq!(checked(&entity, &changed), expected, "{name}");
            }
            assert!(changeable.len() >= 5, "only {changeable:?} could change");
            assert_eq!(checked(&entity, &entity), ["status"]);
            let everything = object_with(&entity, |key| changeable.iter().any(|c| c == key))
                .expect("fields that change alone change together");
            let mut expected = vec!["status".to_owned()];
            expected.extend(changeable);
            assert_eq!(checked(&entity, &everything), expected);
            assert_eq!(checked(&everything, &entity), expected);
        }
    }

    /// `entity` with every field whose name `pick` accepts given another value of its type
    /// (None when that is not a valid entity).
    fn object_with(entity: &Entity, pick: impl Fn(&str) -> bool) -> Option<Entity> {
        let mut tree = serde_json::to_value(entity).unwrap();
        let object = tree
            .as_object_mut()
            .and_then(|o| o.values_mut().next())
            .and_then(Value::as_object_mut)
            .unwrap();
        for (key, value) in object.iter_mut() {
            if !pick(key) {
                continue;
            }
            *value = match value.take() {
                Value::String(s) => Value::String(format!("{s}x")),
                Value::Bool(b) => Value::Bool(!b),
                Value::Number(n) => Value::from(n.as_u64().map_or(1, |n| n + 1)),
                Value::Null => Value::String("set".into()),
                Value::Array(mut items) => {
                    items.push(items.first().cloned().unwrap_or(Value::from("x")));
                    Value::Array(items)
                }
                Value::Object(mut map) => {
                    map.insert("extra".into(), Value::Bool(true));
                    Value::Object(map)
                }
            };
        }
        let changed: Entity = serde_json::from_value(tree).ok()?;
        (serde_json::to_value(&changed).ok()? != serde_json::to_value(entity).ok()?)
            .then_some(changed)
    }

    #[test]
    fn illegal_transitions_name_the_allowed_ones() {
        let mut mailbox =
            Faker::seeded(1).mailbox("x.com", crate::contract::Platform::Google, now());
        let error =
            advance_mailbox(&mut mailbox, &MailboxStatus::Active, PayloadShape::Seed).unwrap_err();
        assert_eq!(error.allowed, ["pending", "cancelled", "deleted"]);
        assert!(
            error.to_string().contains("from `scheduled` to `active`"),
            "{error}"
        );
        assert_eq!(
            mailbox.status,
            MailboxStatus::Scheduled,
            "a refused transition changes nothing"
        );
    }

    #[test]
    fn failures_carry_their_code() {
        let mut request = Faker::seeded(2).consent_request();
        for to in [RequestStatus::Pending, RequestStatus::Processing] {
            advance_consent(&mut request, &to).unwrap();
        }
        let change = advance_consent(&mut request, &RequestStatus::Failed).unwrap();
        assert_eq!(change.failure.unwrap().error_code, "request_failed");
        assert_eq!(request.status_text, "Failed");
    }

    #[test]
    fn a_transition_writes_back_and_a_refused_one_changes_nothing() {
        let now = chrono::DateTime::parse_from_rfc3339("2024-01-10T15:30:45.123Z")
            .unwrap()
            .to_utc();
        let mut world = World::new(9, 1);
        let domain = world.add_domain(0, "a.io", 1, now).unwrap();
        let (object, change) = transition_in(
            &mut world,
            domain,
            "waiting_for_dns_propagation",
            PayloadShape::Seed,
        )
        .unwrap();
        assert_eq!(change.changed_fields, ["status", "dns_propagation_status"]);
        assert_eq!(world.entity(domain), object);
        assert_eq!(
            (world.status(domain), world.epoch(domain)),
            ("waiting_for_dns_propagation", 1)
        );
        assert!(transition_in(&mut world, domain, "cart", PayloadShape::Seed).is_err());
        assert_eq!(
            world.epoch(domain),
            1,
            "a refused transition changes nothing"
        );
    }
}
