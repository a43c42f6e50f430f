//! Typed reading of JSON as Python writes it: a [`Json`] tree from the
//! lenient reader is handed to serde, so configuration types derive
//! `Deserialize` as usual while `NaN`, `Infinity` and `-Infinity` reach
//! their `f64` fields as those values (serde_json refuses the file).
//!
//! Duplicate keys keep the last value, as Python's `json.load` does.

use std::collections::HashMap;
use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

use super::lenient_json::{self, Json, JsonError};

/// Why a document could not be read as the type asked for.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ReadError {
    /// Not JSON at all (Python's `json.load` would refuse it too).
    #[error("{0}")]
    Syntax(JsonError),
    /// JSON, but not of the expected shape.
    #[error("{0}")]
    Shape(String),
}

/// A shape error raised while deserializing.
#[derive(Debug, Clone, PartialEq)]
pub struct ShapeError(pub String);

impl fmt::Display for ShapeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ShapeError {}

impl de::Error for ShapeError {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        ShapeError(msg.to_string())
    }
}

/// Reads `bytes` as Python's `json.load` would and deserializes a `T`.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ReadError> {
    let json = lenient_json::parse(bytes).map_err(ReadError::Syntax)?;
    from_json(json).map_err(|e| ReadError::Shape(e.0))
}

/// Deserializes a `T` from an already read tree.
pub fn from_json<T: DeserializeOwned>(json: Json) -> Result<T, ShapeError> {
    T::deserialize(json)
}

/// The tree as a `serde_json::Value`. A value JSON cannot hold (`NaN`,
/// `Infinity`, `-Infinity`) becomes the string Python writes for it, so a
/// report still shows it; duplicate keys keep the last value.
pub fn to_value(json: Json) -> Value {
    match json {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Bool(b),
        Json::Integer(i) => match (u64::try_from(i), i64::try_from(i)) {
            (Ok(u), _) => Value::from(u),
            (_, Ok(s)) => Value::from(s),
            _ => Value::from(i as f64),
        },
        Json::Number(x) => serde_json::Number::from_f64(x).map_or_else(|| Value::String(python_repr(x)), Value::Number),
        Json::String(s) => Value::String(s),
        Json::Array(items) => Value::Array(items.into_iter().map(to_value).collect()),
        Json::Object(members) => Value::Object(last_wins(members).into_iter().map(|(k, v)| (k, to_value(v))).collect()),
    }
}

/// How Python's `json.dumps` spells a non-finite float.
pub fn python_repr(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x > 0.0 {
        "Infinity".into()
    } else {
        "-Infinity".into()
    }
}

/// Members with repeated keys reduced to one: the first position, the last
/// value (a Python `dict` built from the pairs).
pub fn last_wins(members: Vec<(String, Json)>) -> Vec<(String, Json)> {
    let mut at: HashMap<String, usize> = HashMap::with_capacity(members.len());
    let mut out: Vec<(String, Json)> = Vec::with_capacity(members.len());
    for (key, value) in members {
        match at.get(&key) {
            Some(&i) => out[i].1 = value,
            None => {
                at.insert(key.clone(), out.len());
                out.push((key, value));
            }
        }
    }
    out
}

impl<'de> IntoDeserializer<'de, ShapeError> for Json {
    type Deserializer = Json;
    fn into_deserializer(self) -> Json {
        self
    }
}

impl Json {
    fn unexpected(&self) -> de::Unexpected<'_> {
        match self {
            Json::Null => de::Unexpected::Unit,
            Json::Bool(b) => de::Unexpected::Bool(*b),
            Json::Integer(i) => match i64::try_from(*i) {
                Ok(s) => de::Unexpected::Signed(s),
                Err(_) => de::Unexpected::Other("a large integer"),
            },
            Json::Number(x) => de::Unexpected::Float(*x),
            Json::String(s) => de::Unexpected::Str(s),
            Json::Array(_) => de::Unexpected::Seq,
            Json::Object(_) => de::Unexpected::Map,
        }
    }
}

impl<'de> Deserializer<'de> for Json {
    type Error = ShapeError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self {
            Json::Null => visitor.visit_unit(),
            Json::Bool(b) => visitor.visit_bool(b),
            Json::Integer(i) => match (u64::try_from(i), i64::try_from(i)) {
                (Ok(u), _) => visitor.visit_u64(u),
                (_, Ok(s)) => visitor.visit_i64(s),
                _ => visitor.visit_f64(i as f64),
            },
            Json::Number(x) => visitor.visit_f64(x),
            Json::String(s) => visitor.visit_string(s),
            Json::Array(items) => {
                let mut seq = de::value::SeqDeserializer::new(items.into_iter());
                let value = visitor.visit_seq(&mut seq)?;
                seq.end()?;
                Ok(value)
            }
            Json::Object(members) => {
                let mut map = de::value::MapDeserializer::new(last_wins(members).into_iter());
                let value = visitor.visit_map(&mut map)?;
                map.end()?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ShapeError> {
        match self {
            Json::Null => visitor.visit_none(),
            other => visitor.visit_some(other),
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        visitor.visit_newtype_struct(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        match self {
            Json::String(s) => visitor.visit_enum(s.into_deserializer()),
            Json::Object(mut members) if members.len() == 1 => {
                let (variant, value) = members.remove(0);
                visitor.visit_enum(Variant { variant, value })
            }
            other => Err(de::Error::invalid_type(other.unexpected(), &"a string or a one-key object")),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// An externally tagged enum value `{"Variant": value}`.
struct Variant {
    variant: String,
    value: Json,
}

impl<'de> de::EnumAccess<'de> for Variant {
    type Error = ShapeError;
    type Variant = Json;

    fn variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<(S::Value, Json), ShapeError> {
        let name = seed.deserialize(self.variant.into_deserializer())?;
        Ok((name, self.value))
    }
}

impl<'de> de::VariantAccess<'de> for Json {
    type Error = ShapeError;

    fn unit_variant(self) -> Result<(), ShapeError> {
        match self {
            Json::Null => Ok(()),
            other => Err(de::Error::invalid_type(other.unexpected(), &"null")),
        }
    }

    fn newtype_variant_seed<S: de::DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, ShapeError> {
        seed.deserialize(self)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _len: usize, visitor: V) -> Result<V::Value, ShapeError> {
        self.deserialize_any(visitor)
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ShapeError> {
        self.deserialize_any(visitor)
    }
}

/// A tree written back out; non-finite numbers go to the serializer as
/// they are (serde_json writes them as `null`).
impl Serialize for Json {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => serializer.serialize_unit(),
            Json::Bool(b) => serializer.serialize_bool(*b),
            Json::Integer(i) => match (u64::try_from(*i), i64::try_from(*i)) {
                (Ok(u), _) => serializer.serialize_u64(u),
                (_, Ok(s)) => serializer.serialize_i64(s),
                _ => serializer.serialize_f64(*i as f64),
            },
            Json::Number(x) => serializer.serialize_f64(*x),
            Json::String(s) => serializer.serialize_str(s),
            Json::Array(items) => serializer.collect_seq(items),
            Json::Object(members) => serializer.collect_map(members.iter().map(|(k, v)| (k, v))),
        }
    }
}

/// A tree kept as read inside a typed document (the inline records of a
/// dump manifest).
impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Json, D::Error> {
        struct Tree;
        impl<'de> Visitor<'de> for Tree {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_none<E>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json, D::Error> {
                Json::deserialize(d)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E>(self, i: i64) -> Result<Json, E> {
                Ok(Json::Integer(i.into()))
            }
            fn visit_u64<E>(self, u: u64) -> Result<Json, E> {
                Ok(Json::Integer(u.into()))
            }
            fn visit_i128<E>(self, i: i128) -> Result<Json, E> {
                Ok(Json::Integer(i))
            }
            fn visit_f64<E>(self, x: f64) -> Result<Json, E> {
                Ok(Json::Number(x))
            }
            fn visit_str<E>(self, s: &str) -> Result<Json, E> {
                Ok(Json::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Json, E> {
                Ok(Json::String(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Json::Array(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry()? {
                    members.push(entry);
                }
                Ok(Json::Object(members))
            }
        }
        deserializer.deserialize_any(Tree)
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "lowercase")]
    enum Level {
        Low,
        High,
    }

    #[derive(Debug, Deserialize)]
    struct Config {
        steps: u64,
        offset: i64,
        floor: f64,
        #[serde(default)]
        gain: Option<f64>,
        level: Level,
        name: String,
        table: Vec<f64>,
    }

    #[test]
    fn python_json_reaches_typed_fields() {
        let text = br#"{"steps": 1000, "offset": -1, "floor": -Infinity, "gain": NaN, "level": "high",
                        "name": "NaN and Infinity stay text", "table": [1, 2.5, Infinity], "extra": {"x": NaN}}"#;
        let config: Config = from_slice(text).unwrap();
        assert_eq!((config.steps, config.offset, config.level), (1000, -1, Level::High));
        assert_eq!(config.floor, f64::NEG_INFINITY);
        assert!(config.gain.unwrap().is_nan());
        assert_eq!(config.name, "NaN and Infinity stay text");
        assert_eq!(config.table, vec![1.0, 2.5, f64::INFINITY]);
    }

    #[test]
    fn duplicate_keys_keep_the_last_value_and_shapes_are_named() {
        let config: Config = from_slice(
            br#"{"steps": 1, "steps": 2, "offset": 0, "floor": 0, "level": "low", "name": "", "table": []}"#,
        )
        .unwrap();
        assert_eq!(config.steps, 2);
        let err = from_slice::<Config>(br#"{"steps": "1000"}"#).unwrap_err();
        assert!(matches!(&err, ReadError::Shape(m) if m.contains("expected u64")), "{err}");
        let err = from_slice::<Config>(br#"{"steps": 1.5}"#).unwrap_err();
        assert!(err.to_string().contains("floating point"), "{err}");
        assert!(matches!(from_slice::<Config>(b"{\"steps\": nan}"), Err(ReadError::Syntax(_))));
        assert!(
            from_slice::<Config>(br#"{"steps": 1, "offset": 0, "floor": 0, "level": "mid", "name": "", "table": []}"#)
                .is_err()
        );
    }

    #[test]
    fn values_spell_non_finite_numbers_as_python() {
        let json =
            lenient_json::parse(br#"{"a": -Infinity, "b": [NaN, 3], "c": 18446744073709551615, "a": 1}"#).unwrap();
        let value = to_value(json);
        assert_eq!(value, serde_json::json!({"a": 1, "b": ["NaN", 3], "c": u64::MAX}));
        assert_eq!(to_value(Json::Number(f64::NEG_INFINITY)), Value::String("-Infinity".into()));
    }
}
