//! Znode data: ZooKeeper distinguishes null data from empty data.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The bytes of a znode or request, or null (`create(path, null, ...)`).
///
/// In JSON (traces, transcripts) data is written as `null`, as a string when it is valid UTF-8,
/// as `{"hex": "00ff"}` otherwise, and as `{"fill": "x", "len": 1048520}` for a run of one byte
/// (so a request near `jute.maxbuffer` stays readable). Each form reads back to the same bytes.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Data(pub Option<Vec<u8>>);

/// Runs at least this long are written in the `fill` form.
const FILL_LEN_MIN: usize = 64;

/// The longest `fill` a file may ask for: 1 MiB, one byte over the most data any request can
/// carry (`jute.maxbuffer` is 1,048,575 bytes for the whole request), so a script can still
/// send a request that is too large.
pub const FILL_LEN_MAX: usize = 1 << 20;

impl Data {
    /// Null data.
    pub const NULL: Data = Data(None);

    /// Data holding these bytes.
    pub fn bytes(b: impl Into<Vec<u8>>) -> Self {
        Data(Some(b.into()))
    }

    /// The length ZooKeeper reports in `Stat.dataLength` (0 for null).
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, Vec::len)
    }

    /// Whether the data is null or empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes, empty for null.
    pub fn as_slice(&self) -> &[u8] {
        self.0.as_deref().unwrap_or(&[])
    }

    /// The data as text when it is UTF-8, for display.
    pub fn display(&self) -> String {
        match &self.0 {
            None => "null".to_string(),
            Some(b) => match std::str::from_utf8(b) {
                Ok(s) if s.len() <= 40 => format!("{s:?}"),
                _ => format!("<{} bytes>", b.len()),
            },
        }
    }
}

impl From<&str> for Data {
    fn from(s: &str) -> Self {
        Data::bytes(s.as_bytes())
    }
}

impl Serialize for Data {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let Some(b) = &self.0 else {
            return s.serialize_none();
        };
        // Over FILL_LEN_MAX (no request carries that much) the bytes are written out, so
        // that whatever is written reads back.
        if (FILL_LEN_MIN..=FILL_LEN_MAX).contains(&b.len())
            && b.iter().all(|x| *x == b[0])
            && b[0].is_ascii_graphic()
        {
            let mut m = s.serialize_map(Some(2))?;
            m.serialize_entry("fill", &(b[0] as char).to_string())?;
            m.serialize_entry("len", &b.len())?;
            return m.end();
        }
        match std::str::from_utf8(b) {
            Ok(text) => s.serialize_str(text),
            Err(_) => {
                let mut m = s.serialize_map(Some(1))?;
                m.serialize_entry("hex", &hex(b))?;
                m.end()
            }
        }
    }
}

#[derive(Deserialize)]
#[serde(untagged, deny_unknown_fields)]
enum DataRepr {
    Text(String),
    Hex { hex: String },
    Fill { fill: String, len: usize },
}

impl<'de> Deserialize<'de> for Data {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let repr: Option<DataRepr> = Option::deserialize(d)?;
        Ok(match repr {
            None => Data(None),
            Some(DataRepr::Text(t)) => Data::bytes(t.into_bytes()),
            Some(DataRepr::Hex { hex }) => Data::bytes(unhex(&hex).map_err(D::Error::custom)?),
            Some(DataRepr::Fill { fill, len }) => {
                let [byte] = fill.as_bytes() else {
                    return Err(D::Error::custom("`fill` must be a single ASCII character"));
                };
                if len > FILL_LEN_MAX {
                    return Err(D::Error::custom(format!(
                        "`fill` len {len} is over the limit of {FILL_LEN_MAX} bytes (1 MiB)"
                    )));
                }
                Data::bytes(vec![*byte; len])
            }
        })
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn unhex(s: &str) -> Result<Vec<u8>, String> {
    if s.len() % 2 != 0 {
        return Err(format!("hex data has an odd length ({})", s.len()));
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).map_err(|_| format!("bad hex digits at {i}")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // Each JSON form reads back to the bytes it was written from.
    #[test]
    fn every_json_form_round_trips() {
        for d in [
            Data(None),
            Data::bytes(""),
            Data::from("m1"),
            Data::bytes(vec![0, 255, 7]),
            Data::bytes(vec![b'x'; 1000]),
        ] {
            let j = serde_json::to_string(&d).unwrap();
            assert_eq!(serde_json::from_str::<Data>(&j).unwrap(), d, "{j}");
        }
        assert_eq!(
            serde_json::to_string(&Data::bytes(vec![b'x'; 64])).unwrap(),
            r#"{"fill":"x","len":64}"#
        );
    }
}
