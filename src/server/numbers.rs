//! JSON numbers written with a zero fraction (`4.0`) are integers to JSON Schema, and to
//! clients that write every number as a float (JavaScript's `JSON.stringify` does not, but
//! generated clients and fuzzers do); serde refuses them for integer fields. This middleware
//! rewrites such numbers in JSON request bodies as plain integers before any handler reads the
//! body, so a body valid under the published schema is never refused for its number spelling.
//! Bodies that are not JSON, or larger than the configured limit, pass through untouched.

use actix_web::body::MessageBody;
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{HttpMessage, web};
use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use serde_json::Value;

use super::auth::is_json;

/// Rewrites whole floats as integers, recursively; true when anything changed.
pub fn integral(value: &mut Value) -> bool {
    match value {
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            // Exactly representable whole numbers only (|x| < 2^53).
            if float.fract() == 0.0 && float.abs() < 9_007_199_254_740_992.0 {
                #[allow(clippy::cast_possible_truncation)]
                let whole = float as i64;
                *value = Value::from(whole);
                return true;
            }
            false
        }
        Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, v| integral(v) | changed),
        Value::Object(map) => map
            .values_mut()
            .fold(false, |changed, v| integral(v) | changed),
        _ => false,
    }
}

/// Middleware: JSON bodies with whole floats get them rewritten (see the module docs).
pub async fn whole_numbers(
    mut request: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let json = request
        .headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(is_json);
    if !json {
        return next.call(request).await;
    }
    let limit = request
        .app_data::<web::Data<super::AppState>>()
        .map_or(super::DEFAULT_MAX_BODY_BYTES, |s| s.max_body_bytes());
    let mut payload = request.take_payload();
    let mut body = BytesMut::new();
    let mut failed = None;
    while let Some(chunk) = payload.next().await {
        match chunk {
            Ok(chunk) => {
                body.extend_from_slice(&chunk);
                if body.len() > limit {
                    break;
                }
            }
            Err(error) => {
                failed = Some(error);
                break;
            }
        }
    }
    let body = body.freeze();
    let rewritten = match (&failed, body.len() > limit) {
        (None, false) => serde_json::from_slice::<Value>(&body)
            .ok()
            .and_then(|mut value| integral(&mut value).then_some(value))
            .and_then(|value| serde_json::to_vec(&value).ok())
            .map(Bytes::from),
        _ => None,
    };
    let body = rewritten.unwrap_or(body);
    let rest = payload;
    let replay = futures::stream::once(async move { Ok(body) });
    let stream: std::pin::Pin<
        Box<dyn futures::Stream<Item = Result<Bytes, actix_web::error::PayloadError>>>,
    > = match failed {
        Some(error) => Box::pin(replay.chain(futures::stream::once(async move { Err(error) }))),
        None => Box::pin(replay.chain(rest)),
    };
    request.set_payload(Payload::from(stream));
    next.call(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn whole_floats_become_integers_and_the_rest_stays() {
        let mut value = serde_json::json!({"page": 4.0, "x": [1.5, 2.0, -3.0], "s": "4.0", "n": 7});
        assert!(integral(&mut value));
        assert_eq!(
            value.to_string(),
            r#"{"page":4,"x":[1.5,2,-3],"s":"4.0","n":7}"#
        );
        let mut plain = serde_json::json!({"a": 1, "b": [true, null]});
        assert!(!integral(&mut plain));
        let mut huge = serde_json::json!(1e300);
        assert!(
            !integral(&mut huge),
            "not exactly representable: left as is"
        );
    }
}
