//! The top-level fields of an entity as JSON text, one by one, without building a JSON tree: what
//! [`super::transition::changed_fields`] compares on every transition.

use std::ops::Range;

use serde::Serialize;
use serde::ser::{self, Impossible};

/// Each field of a struct (seen through at most one newtype enum variant, as an `Entity` wraps
/// its object), its value written as compact JSON.
#[derive(Debug, Default)]
pub(super) struct Fields {
    text: Vec<u8>,
    fields: Vec<(&'static str, Range<usize>)>,
}

impl Fields {
    /// The fields of `value`, or None when it does not serialize as a struct (or a newtype
    /// variant holding one).
    pub fn of<T: Serialize + ?Sized>(value: &T) -> Option<Fields> {
        let mut fields = Fields::default();
        value.serialize(Capture { into: &mut fields }).ok()?;
        // A lone field holding an object would be taken for a wrapper by the JSON-tree reading
        // this stands in for: leave that case to it.
        let lone_object = matches!(&fields.fields[..], [(_, range)] if fields.text.get(range.start) == Some(&b'{'));
        (!lone_object).then_some(fields)
    }

    /// Field names with their JSON text, in serialization order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[u8])> {
        self.fields
            .iter()
            .map(|(name, range)| (*name, &self.text[range.clone()]))
    }

    /// The JSON text of field `name`, if present; looked for at `hint` first (the same type
    /// writes its fields in the same order).
    pub fn get(&self, name: &str, hint: usize) -> Option<&[u8]> {
        let at = match self.fields.get(hint) {
            Some((n, _)) if *n == name => hint,
            _ => self.fields.iter().position(|(n, _)| *n == name)?,
        };
        Some(&self.text[self.fields[at].1.clone()])
    }
}

/// Anything but a struct: the caller falls back to a JSON tree.
#[derive(Debug)]
struct NotAStruct;

impl std::fmt::Display for NotAStruct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("not a struct")
    }
}

impl std::error::Error for NotAStruct {}

impl ser::Error for NotAStruct {
    fn custom<M: std::fmt::Display>(_: M) -> Self {
        NotAStruct
    }
}

struct Capture<'a> {
    into: &'a mut Fields,
}

impl ser::SerializeStruct for Capture<'_> {
    type Ok = ();
    type Error = NotAStruct;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), NotAStruct> {
        let start = self.into.text.len();
        serde_json::to_writer(&mut self.into.text, value).map_err(|_| NotAStruct)?;
        let end = self.into.text.len();
        self.into.fields.push((key, start..end));
        Ok(())
    }

    fn end(self) -> Result<(), NotAStruct> {
        Ok(())
    }
}

/// Refuses a kind of value the capture does not handle.
macro_rules! refuse {
    ($($method:ident($($arg:ty),*)),* $(,)?) => {
        $(fn $method(self, $(_: $arg),*) -> Result<(), NotAStruct> {
            Err(NotAStruct)
        })*
    };
}

impl<'a> ser::Serializer for Capture<'a> {
    type Ok = ();
    type Error = NotAStruct;
    type SerializeSeq = Impossible<(), NotAStruct>;
    type SerializeTuple = Impossible<(), NotAStruct>;
    type SerializeTupleStruct = Impossible<(), NotAStruct>;
    type SerializeTupleVariant = Impossible<(), NotAStruct>;
    type SerializeMap = Impossible<(), NotAStruct>;
    type SerializeStruct = Capture<'a>;
    type SerializeStructVariant = Impossible<(), NotAStruct>;

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Capture<'a>, NotAStruct> {
        self.into.fields.reserve(len);
        Ok(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        value: &T,
    ) -> Result<(), NotAStruct> {
        value.serialize(self)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), NotAStruct> {
        value.serialize(self)
    }

    refuse!(
        serialize_bool(bool),
        serialize_i8(i8),
        serialize_i16(i16),
        serialize_i32(i32),
        serialize_i64(i64),
        serialize_u8(u8),
        serialize_u16(u16),
        serialize_u32(u32),
        serialize_u64(u64),
        serialize_f32(f32),
        serialize_f64(f64),
        serialize_char(char),
        serialize_str(&str),
        serialize_bytes(&[u8]),
        serialize_none(),
        serialize_unit(),
        serialize_unit_struct(&'static str),
        serialize_unit_variant(&'static str, u32, &'static str),
    );

    fn serialize_some<T: Serialize + ?Sized>(self, _: &T) -> Result<(), NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple(self, _: usize) -> Result<Self::SerializeTuple, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleStruct, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, NotAStruct> {
        Err(NotAStruct)
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, NotAStruct> {
        Err(NotAStruct)
    }
}
