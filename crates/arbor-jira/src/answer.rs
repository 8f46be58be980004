//! Jira's answers read into `serde_json::Value` without the members arbor never reads: `self`, `iconUrl`,
//! `avatarUrls` and `expand`, which nearly every object of an answer carries (an issue's status, assignee,
//! priority and parent each bring several URLs), and the `fields` of the issues an issue's fields refer to (a
//! parent, a linked issue, a sub-task bring their summary, status, priority and type; arbor reads only their id
//! and key). Skipping them while parsing spares allocating and freeing most of an answer's strings; no field
//! id of Jira has these names, so no field value is lost.

use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, Error, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Members skipped wherever they appear.
const UNREAD: [&str; 4] = ["self", "iconUrl", "avatarUrls", "expand"];

/// Parses one answer, as `serde_json::from_slice` would, less the [`UNREAD`] members.
pub fn from_slice(bytes: &[u8]) -> serde_json::Result<Value> {
    let mut reader = serde_json::Deserializer::from_slice(bytes);
    let value = Lean::default().deserialize(&mut reader)?;
    reader.end()?;
    Ok(value)
}

#[derive(Clone, Copy, Default)]
struct Lean {
    /// Inside an issue's `fields`: a member named `fields` belongs to an issue referred to, and is skipped.
    in_fields: bool,
}

impl<'de> DeserializeSeed<'de> for Lean {
    type Value = Value;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Lean {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: Error>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E: Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        self.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut list = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(element) = seq.next_element_seed(self)? {
            list.push(element);
        }
        Ok(Value::Array(list))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key_seed(Key)? {
            let fields = key.as_deref() == Some("fields");
            match key {
                Some(_) if fields && self.in_fields => {
                    map.next_value::<IgnoredAny>()?;
                }
                Some(key) => {
                    let value = map.next_value_seed(Lean {
                        in_fields: self.in_fields || fields,
                    })?;
                    object.insert(key, value);
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Value::Object(object))
    }
}

/// A member's name, or `None` for an [`UNREAD`] one.
struct Key;

impl<'de> DeserializeSeed<'de> for Key {
    type Value = Option<String>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for Key {
    type Value = Option<String>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok((!UNREAD.contains(&v)).then(|| v.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_read_as_json_less_the_unread_members() {
        let text = r#"{"expand":"names","issues":[{"id":"10001","self":"https://x/issue/10001","key":"A-1",
            "fields":{"summary":"Ünïcode \"quoted\"","customfield_10016":3.5,"labels":["a"],"parent":null,
            "status":{"self":"https://x/status/1","iconUrl":"https://x/i.png","name":"Done","id":"3",
            "statusCategory":{"self":"https://x/c","key":"done"}},
            "assignee":{"avatarUrls":{"48x48":"https://x/a"},"accountId":"u1","active":true},
            "subtasks":[{"id":"10002","key":"A-2","fields":{"summary":"s","status":{"name":"To Do"}}}]}},
            {"id":"10002","key":"A-2","fields":{"parent":{"id":"10001","key":"A-1","fields":{"summary":"p"}}}}],
            "total":-1}"#;
        let expected = json!({"issues":[{"id":"10001","key":"A-1","fields":{
            "summary":"Ünïcode \"quoted\"","customfield_10016":3.5,"labels":["a"],"parent":null,
            "status":{"name":"Done","id":"3","statusCategory":{"key":"done"}},
            "assignee":{"accountId":"u1","active":true},
            "subtasks":[{"id":"10002","key":"A-2"}]}},
            {"id":"10002","key":"A-2","fields":{"parent":{"id":"10001","key":"A-1"}}}],
            "total":-1});
        assert_eq!(from_slice(text.as_bytes()).unwrap(), expected);
        // Everything else reads as serde_json reads it.
        let plain = br#"[1, -2, 1.5e3, true, null, "s", {"a": {"b": []}}]"#;
        assert_eq!(
            from_slice(plain).unwrap(),
            serde_json::from_slice::<Value>(plain).unwrap()
        );
    }

    #[test]
    fn what_is_not_json_is_refused() {
        for bad in [&b"{"[..], b"[1,]", b"{\"a\":1} trailing", b"{1:2}"] {
            assert!(from_slice(bad).is_err(), "{}", String::from_utf8_lossy(bad));
        }
    }
}
