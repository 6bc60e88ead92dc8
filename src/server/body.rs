//! JSON request bodies. Every documented body is a JSON object, but serde's derived structs
//! also take an array (the fields by position), which no client means and the OpenAPI document
//! does not allow: [`JsonObject`] refuses anything but an object with the same 400 as any other
//! invalid body.

use std::fmt;
use std::marker::PhantomData;
use std::ops::Deref;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};
use futures::FutureExt;
use serde::de::{Deserialize, DeserializeOwned, Deserializer, MapAccess, Visitor};

/// A JSON request body that must be an object, read as `T` (under the app's `JsonConfig`:
/// size limit, content type, error answer).
#[derive(Debug)]
pub struct JsonObject<T>(pub T);

impl<T> JsonObject<T> {
    /// The body read.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> Deref for JsonObject<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

/// `T`, deserialized from a JSON object only (named by [`JsonObject`]'s extractor future).
pub struct Object<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Object<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields<T>(PhantomData<T>);

        impl<'de, T: Deserialize<'de>> Visitor<'de> for Fields<T> {
            type Value = T;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }

        deserializer
            .deserialize_map(Fields(PhantomData))
            .map(Object)
    }
}

/// What [`web::Json`] reads the body as, then unwrapped: no allocation of its own per request.
type ReadJson<T> = <web::Json<Object<T>> as FromRequest>::Future;
type Unwrap<T> = fn(Result<web::Json<Object<T>>, actix_web::Error>) -> ReadResult<T>;
type ReadResult<T> = Result<JsonObject<T>, actix_web::Error>;

impl<T: DeserializeOwned + 'static> FromRequest for JsonObject<T> {
    type Error = actix_web::Error;
    type Future = futures::future::Map<ReadJson<T>, Unwrap<T>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let unwrap: Unwrap<T> = |body| body.map(|body| JsonObject(body.into_inner().0));
        web::Json::<Object<T>>::from_request(request, payload).map(unwrap)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Page {
        #[serde(default)]
        page: u32,
        #[serde(default)]
        tags: Vec<String>,
    }

    /// Like the request bodies: unknown fields refused, a field of either shape.
    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Strict {
        by: Either,
    }

    #[derive(Debug, serde::Deserialize, PartialEq)]
    #[serde(untagged)]
    enum Either {
        Text(String),
        List(Vec<String>),
    }

    #[test]
    fn serde_attributes_of_the_body_still_apply() {
        let read = |text| serde_json::from_str::<Object<Strict>>(text).map(|object| object.0);
        assert_eq!(
            read(r#"{"by": "1m"}"#).unwrap(),
            Strict {
                by: Either::Text("1m".into())
            }
        );
        assert_eq!(
            read(r#"{"by": ["1m", "2m"]}"#).unwrap(),
            Strict {
                by: Either::List(vec!["1m".into(), "2m".into()])
            }
        );
        let unknown = read(r#"{"by": "1m", "x": 1}"#).unwrap_err().to_string();
        assert!(unknown.contains("unknown field `x`"), "{unknown}");
        let missing = read("{}").unwrap_err().to_string();
        assert!(missing.contains("missing field `by`"), "{missing}");
    }

    fn read(text: &str) -> Result<Page, serde_json::Error> {
        serde_json::from_str::<Object<Page>>(text).map(|object| object.0)
    }

    #[test]
    fn objects_are_read_as_the_struct_and_anything_else_is_refused() {
        assert_eq!(
            read(r#"{"page": 2, "tags": ["a"]}"#).unwrap(),
            Page {
                page: 2,
                tags: vec!["a".into()]
            }
        );
        assert_eq!(
            read("{}").unwrap(),
            Page {
                page: 0,
                tags: vec![]
            }
        );
        // serde_json alone takes both arrays as the struct's fields by position.
        assert!(serde_json::from_str::<Page>("[]").is_ok());
        assert!(serde_json::from_str::<Page>(r#"[3, ["b"]]"#).is_ok());
        for text in ["[]", r#"[3, ["b"]]"#, "3", "\"x\"", "null", "true"] {
            let error = read(text).unwrap_err().to_string();
            assert!(error.contains("expected a JSON object"), "{text}: {error}");
        }
    }
}
