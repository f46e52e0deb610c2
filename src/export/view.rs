//! A stored record as the flat and workbook exports read it: each value already the text of
//! its cell. Read straight from the record's text, without building a `serde_json::Value`:
//! parsing every record into one (maps of its members, each a hashed, ordered table), then
//! freeing it, was nearly all of a CSV or workbook export's time (`perf`, docs/benchmarks.md).

use crate::input::SheetKind;
use crate::template::columns;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// (name, cell text) pairs in the order the record holds them.
pub(super) type Members = Vec<(String, String)>;

/// What the exports read of one record. A text that is not a record reads as empty, as its
/// parsed `Value` (`Null`) did.
#[derive(Debug, Default, PartialEq)]
pub(super) struct RecordView {
    /// The members of `user` that are columns of the Users sheet (the template's): the others
    /// (`external_system_identities`, an object of objects) would be read for nothing.
    pub user: Members,
    /// The members of `user.custom_attributes`.
    pub custom: Members,
    /// `user_id_info.user_emails`, joined.
    pub emails: String,
    /// The entries of `user_id_info.itsm_id_info`, `channel_id_info` and `idm_id_info`.
    pub lists: [Vec<Members>; 3],
}

impl RecordView {
    pub fn of(text: &str) -> RecordView {
        let mut de = serde_json::Deserializer::from_str(text);
        de.deserialize_map(RecordVisitor)
            .and_then(|v| de.end().map(|()| v))
            .unwrap_or_default()
    }

    /// A member of `user` ("" when the record has none).
    pub fn user(&self, name: &str) -> &str {
        member(&self.user, name)
    }

    pub fn custom(&self, name: &str) -> &str {
        member(&self.custom, name)
    }
}

/// The text of the member `name` ("" when there is none).
pub(super) fn member<'m>(members: &'m Members, name: &str) -> &'m str {
    members
        .iter()
        .find(|(n, _)| n == name)
        .map_or("", |(_, v)| v.as_str())
}

/// Whether a member of `user` is a column of the Users sheet.
fn is_column(name: &str) -> bool {
    columns(SheetKind::Users).iter().any(|c| c.name == name)
}

/// (list key, its slot in [`RecordView::lists`]).
const LISTS: [(&str, usize); 3] = [
    ("itsm_id_info", 0),
    ("channel_id_info", 1),
    ("idm_id_info", 2),
];

/// A member's name, borrowed from the text unless it holds an escape.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(s.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

struct RecordVisitor;

impl<'de> Visitor<'de> for RecordVisitor {
    type Value = RecordView;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordView, A::Error> {
        let mut view = RecordView::default();
        while let Some(Key(key)) = map.next_key()? {
            match key.as_ref() {
                "user" | "user_id_info" => map.next_value_seed(Part {
                    user: key == "user",
                    view: &mut view,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(view)
    }
}

/// What a visitor gives for a scalar where it wants an object or a list (`$empty`: nothing
/// read), as indexing a `Value` of the wrong type gave nothing.
macro_rules! scalars_read_as {
    ($ty:ty, $empty:expr) => {
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($empty)
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($empty)
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($empty)
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($empty)
        }
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($empty)
        }
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($empty)
        }
    };
}

/// Reads `user` or `user_id_info` into the view: a member that is not an object leaves its
/// part empty, as indexing a `Value` did.
struct Part<'v> {
    view: &'v mut RecordView,
    /// `user`, else `user_id_info`.
    user: bool,
}

impl<'de> DeserializeSeed<'de> for Part<'_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Part<'_> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(if self.user {
            "the user"
        } else {
            "the user's ID info"
        })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let view = self.view;
        while let Some(Key(key)) = map.next_key()? {
            let list = || LISTS.iter().find(|(k, _)| *k == key).map(|&(_, slot)| slot);
            if self.user && key == "custom_attributes" {
                view.custom = map.next_value::<Object>()?.0;
            } else if self.user && is_column(&key) {
                let Joined(text) = map.next_value()?;
                view.user.push((key.into_owned(), text));
            } else if !self.user && key == "user_emails" {
                view.emails = map.next_value::<Joined>()?.0;
            } else if let Some(slot) = list().filter(|_| !self.user) {
                view.lists[slot] = map.next_value::<Entries>()?.0;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    scalars_read_as!((), ());
}

/// An object's members as cell texts; anything else reads as no members.
struct Object(Members);

impl<'de> Deserialize<'de> for Object {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Object;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Object, A::Error> {
                let mut members = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    let Joined(text) = map.next_value()?;
                    members.push((key.into_owned(), text));
                }
                Ok(Object(members))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Object, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Object(Vec::new()))
            }
            scalars_read_as!(Object, Object(Vec::new()));
        }
        d.deserialize_any(V)
    }
}

/// A list of entries (objects); an entry that is not an object has no members, and a value
/// that is not a list no entries.
struct Entries(Vec<Members>);

impl<'de> Deserialize<'de> for Entries {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Entries;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of entries")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Entries, A::Error> {
                let mut entries = Vec::new();
                while let Some(Object(members)) = seq.next_element()? {
                    entries.push(members);
                }
                Ok(Entries(entries))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Entries(Vec::new()))
            }
            scalars_read_as!(Entries, Entries(Vec::new()));
        }
        d.deserialize_any(V)
    }
}

/// A value as one cell's text: a string as it is, a list's items joined with `;`, `null` as
/// nothing, anything else as its JSON text.
struct Joined(String);

impl<'de> Deserialize<'de> for Joined {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Joined;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a value")
            }
            fn visit_str<E>(self, s: &str) -> Result<Joined, E> {
                Ok(Joined(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Joined, E> {
                Ok(Joined(s))
            }
            fn visit_unit<E>(self) -> Result<Joined, E> {
                Ok(Joined(String::new()))
            }
            fn visit_bool<E>(self, b: bool) -> Result<Joined, E> {
                Ok(Joined(b.to_string()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Joined, E> {
                Ok(Joined(n.to_string()))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Joined, E> {
                Ok(Joined(n.to_string()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Joined, E> {
                // As `serde_json` writes a number it read.
                Ok(Joined(serde_json::Value::from(n).to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Joined, A::Error> {
                let mut items = Vec::new();
                while let Some(Joined(item)) = seq.next_element()? {
                    items.push(item);
                }
                Ok(Joined(items.join(";")))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Joined, A::Error> {
                let value =
                    serde_json::Value::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Joined(value.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The cell texts as the exports read them from a parsed `Value` before.
    fn joined(v: &Value) -> String {
        match v {
            Value::Null => String::new(),
            Value::String(s) => s.clone(),
            Value::Array(items) => items.iter().map(joined).collect::<Vec<_>>().join(";"),
            other => other.to_string(),
        }
    }

    fn members(v: &Value) -> Members {
        v.as_object()
            .into_iter()
            .flatten()
            .map(|(k, v)| (k.clone(), joined(v)))
            .collect()
    }

    fn by_value(text: &str) -> RecordView {
        let record: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let user = &record["user"];
        let info = &record["user_id_info"];
        RecordView {
            user: members(user)
                .into_iter()
                .filter(|(k, _)| is_column(k))
                .collect(),
            custom: members(&user["custom_attributes"]),
            emails: joined(&info["user_emails"]),
            lists: LISTS.map(|(key, _)| {
                info[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(members)
                    .collect()
            }),
        }
    }

    #[test]
    fn a_view_reads_what_the_parsed_record_held() {
        for text in [
            r#"{"record_id":"R1","user":{"custom_attributes":{"vendor":"Cont\"oso","n":3,"l":["a",["b",null]]},"first_name":"Zoë","user_tags":["A","B"],"role":1.5,"city":-12,"state":true,"region":{"x":[1,{"y":2}]},"department":null,"external_system_identities":{"slack":{"user_id":"U1"}}},"user_id_info":{"user_emails":["a@x.com","b@x.com"],"channel_id_info":[{"integration":"slack","user_id":"U1"}],"itsm_id_info":[{"integration":"servicenow","user_id":"6816","external_id":"j\\u00e9"},7],"idm_id_info":[]}}"#,
            r#"{"record_id":"R2","user":[1,2],"user_id_info":{"user_emails":"one@x.com","itsm_id_info":{"a":1}}}"#,
            r#"{"record_id":"R3","user":"text","user_id_info":null}"#,
            r#"{"record_id":"R4","user":{"custom_attributes":[1]}}"#,
            r#"[1,2]"#,
            r#"{"record_id":"R5","user":{"first_name":"cut"#,
            "",
        ] {
            assert_eq!(RecordView::of(text), by_value(text), "{text}");
        }
    }
}
