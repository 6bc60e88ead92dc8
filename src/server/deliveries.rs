//! Journal routes under `/_mock/deliveries`: list with filters and pages, show one with every
//! attempt, and redeliver one or many (one manual attempt each, journaled with
//! `trigger: manual`; a redelivery never changes a delivery's terminal state).

use actix_web::{HttpResponse, web};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;

use super::answers::{
    AttemptView, BulkRedelivery, DeliverySummary, DeliveryView, JournalPage, Redelivered,
    RedeliveryResult,
};
use super::body::JsonObject;
use super::operations::MAX_JOURNAL_PAGE;
use super::problem::ApiError;
use super::state::AppState;
use crate::delivery::journal::Filter;
use crate::delivery::{AttemptOutcome, AttemptRecord, DeliveryId, DeliveryState};

/// Default page size of `GET /_mock/deliveries`.
pub const DEFAULT_LIMIT: usize = 100;
/// Manual attempts a bulk redelivery makes at once: a default page.
const REDELIVERY_CONCURRENCY: usize = DEFAULT_LIMIT;

/// Registers the journal routes (under `/_mock`).
pub fn routes(config: &mut web::ServiceConfig) {
    config
        .route("/deliveries", web::get().to(list))
        .route("/deliveries/redeliver", web::post().to(redeliver_many))
        .route("/deliveries/{id}", web::get().to(show))
        .route("/deliveries/{id}/redeliver", web::post().to(redeliver_one));
}

/// Filters shared by the listing (query string) and bulk redelivery (JSON body).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    event: Option<String>,
    uid: Option<String>,
    state: Option<DeliveryState>,
    outcome: Option<AttemptOutcome>,
    since: Option<String>,
    until: Option<String>,
    offset: Option<usize>,
    limit: Option<usize>,
}

impl Query {
    fn filter(&self) -> Result<Filter, ApiError> {
        Ok(Filter {
            event: self.event.clone(),
            uid: self.uid.clone(),
            state: self.state,
            outcome: self.outcome,
            since: self
                .since
                .as_deref()
                .map(|t| normalize(t, "since"))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| normalize(t, "until"))
                .transpose()?,
        })
    }

    fn page(&self) -> Result<(usize, usize), ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_JOURNAL_PAGE).contains(&limit) {
            return Err(ApiError::BadRequest(format!(
                "`limit` must be 1 to {MAX_JOURNAL_PAGE}"
            )));
        }
        Ok((self.offset.unwrap_or(0), limit))
    }
}

/// A time bound of the query, read as an instant (any offset).
fn normalize(text: &str, field: &str) -> Result<DateTime<Utc>, ApiError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.to_utc())
        .map_err(|e| {
            ApiError::BadRequest(format!("`{field}`: `{text}` is not an ISO 8601 time: {e}"))
        })
}

async fn list(
    state: web::Data<AppState>,
    query: web::Query<Query>,
) -> Result<HttpResponse, ApiError> {
    let filter = query.filter()?;
    let (offset, limit) = query.page()?;
    let (page, total) = state.sender().journal().list(&filter, offset, limit);
    Ok(HttpResponse::Ok().json(JournalPage {
        total,
        offset,
        limit,
        deliveries: page.iter().map(DeliverySummary::from).collect(),
    }))
}

async fn show(state: web::Data<AppState>, id: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let id = DeliveryId(id.into_inner().into());
    let record = state
        .sender()
        .journal()
        .get(&id)
        .ok_or_else(|| ApiError::UnknownDelivery(id.to_string()))?;
    Ok(HttpResponse::Ok().json(DeliveryView::from(&record)))
}

/// One manual attempt of delivery `id`.
async fn redeliver(state: &AppState, id: &DeliveryId) -> Result<AttemptRecord, ApiError> {
    let workspace = state
        .sender()
        .journal()
        .get(id)
        .map(|record| state.workspace_of(&record))
        .ok_or_else(|| ApiError::UnknownDelivery(id.to_string()))?;
    let subscriber = state.subscriber(workspace);
    let attempt = state
        .sender()
        .redeliver(id, &subscriber)
        .await
        .map_err(|_| ApiError::UnknownDelivery(id.to_string()))?;
    Ok(attempt)
}

async fn redeliver_one(
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    state.intake()?;
    let id = DeliveryId(id.into_inner().into());
    let attempt = redeliver(&state, &id).await?;
    Ok(HttpResponse::Ok().json(Redelivered {
        delivery_id: id.as_str(),
        attempt: AttemptView::from(&attempt),
    }))
}

async fn redeliver_many(
    state: web::Data<AppState>,
    body: JsonObject<Query>,
) -> Result<HttpResponse, ApiError> {
    state.intake()?;
    let filter = body.filter()?;
    let (offset, limit) = body.page()?;
    let (page, matched) = state.sender().journal().list(&filter, offset, limit);
    // A default page's attempts at once: a subscriber that never answers costs such a page one
    // deadline, and a bulk call holds at most this many of the sender's permits (live
    // deliveries and retries keep the rest).
    let ids: Vec<DeliveryId> = page.into_iter().map(|record| record.id).collect();
    let results: Vec<RedeliveryResult> = futures::stream::iter(ids)
        .map(|id| {
            let state = state.clone();
            async move {
                match redeliver(&state, &id).await {
                    Ok(attempt) => RedeliveryResult::Sent {
                        delivery_id: id,
                        outcome: attempt.outcome,
                    },
                    Err(error) => RedeliveryResult::Failed {
                        delivery_id: id,
                        error: error.code(),
                    },
                }
            }
        })
        .buffered(REDELIVERY_CONCURRENCY)
        .collect()
        .await;
    Ok(HttpResponse::Ok().json(BulkRedelivery {
        matched,
        redelivered: results.len(),
        results,
    }))
}
