//! [`Headers`]: an ordered, case-insensitive multimap of header fields.

use std::fmt;

use bytes::Bytes;

use super::EncodeError;
use super::chars::{is_field_value, is_token, name_eq};

/// An ordered multimap of header fields.
///
/// Names compare ASCII case-insensitively; the original case and the order
/// of the fields are kept, so serializing gives back what was received or
/// appended. Lookups are linear scans, which beat hashing for the few dozen
/// fields of a real message.
///
/// # Memory
///
/// Names and values are [`Bytes`]. A parsed head is one frozen buffer and
/// every field is a `Bytes::slice` of it: parsing allocates the field vector
/// and nothing per field. Appending a `&'static str` is free too
/// (`Bytes::from_static`); a `String` or `Vec<u8>` is moved in without a
/// copy. To append a borrowed `&str`, pass `s.to_owned()` or
/// `Bytes::copy_from_slice(s.as_bytes())`.
///
/// # Validation
///
/// Parsed fields were validated by the parser. [`Headers::try_append`] and
/// [`Headers::try_insert`] validate fields from code; [`Headers::append`] and
/// [`Headers::insert`] do not, and the serializer in
/// [`encode`](super::encode) checks every field again, so an invalid field
/// can never reach the wire and a value with CR or LF can never inject one.
///
/// # Examples
///
/// ```
/// use eventide_http_mini::proto::Headers;
///
/// let mut h = Headers::new();
/// h.append("Content-Type", "text/plain");
/// h.append("Set-Cookie", "a=1");
/// h.append("set-cookie", String::from("b=2"));
/// assert_eq!(h.get("content-type"), Some(&b"text/plain"[..]));
/// assert_eq!(h.get_all("SET-COOKIE").count(), 2);
/// assert!(h.try_append("X-Evil", "a\r\nInjected: 1").is_err());
///
/// h.insert("set-cookie", "c=3");
/// assert_eq!(h.get_str("Set-Cookie"), Some("c=3"));
/// assert_eq!(h.len(), 2);
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Headers {
    fields: Vec<Field>,
}

#[derive(Clone)]
struct Field {
    name: Bytes,
    value: Bytes,
    /// Known not to inject (parsed, or added through a `try_` method): the
    /// serializer need not check it again.
    checked: bool,
}

impl PartialEq for Field {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.value == other.value
    }
}

impl Eq for Field {}

impl Headers {
    /// An empty map.
    pub const fn new() -> Self {
        Self { fields: Vec::new() }
    }

    /// An empty map with room for `capacity` fields.
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            fields: Vec::with_capacity(capacity),
        }
    }

    /// The number of fields (each repeated name counts).
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The value of the first field named `name`.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.fields
            .iter()
            .find(|f| name_eq(&f.name, name))
            .map(|f| &f.value[..])
    }

    /// The value of the first field named `name`, if it is UTF-8.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(|v| std::str::from_utf8(v).ok())
    }

    /// The values of every field named `name`, in order.
    pub fn get_all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        self.fields
            .iter()
            .filter(move |f| name_eq(&f.name, name))
            .map(|f| &f.value[..])
    }

    /// Whether a field named `name` is present.
    pub fn contains(&self, name: &str) -> bool {
        self.fields.iter().any(|f| name_eq(&f.name, name))
    }

    /// Appends a field without validating it.
    ///
    /// The serializer rejects invalid fields later; use
    /// [`Headers::try_append`] to be told now.
    pub fn append(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.fields.push(Field {
            name: name.into(),
            value: value.into(),
            checked: false,
        });
    }

    /// Appends a field after checking that the name is a token and the value
    /// has no CR, LF, NUL or other control byte.
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidHeaderName`] or
    /// [`EncodeError::InvalidHeaderValue`]; the map is then unchanged.
    pub fn try_append(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), EncodeError> {
        let (name, value) = validated(name.into(), value.into())?;
        self.fields.push(Field {
            name,
            value,
            checked: true,
        });
        Ok(())
    }

    /// Replaces every field named like `name` with one field, without
    /// validating it. The new field takes the place of the first old one (or
    /// goes last if there was none).
    pub fn insert(&mut self, name: impl Into<Bytes>, value: impl Into<Bytes>) {
        self.insert_field(Field {
            name: name.into(),
            value: value.into(),
            checked: false,
        });
    }

    fn insert_field(&mut self, field: Field) {
        if self.fields.is_empty() {
            self.fields.push(field);
            return;
        }
        let name = field.name.clone();
        let mut first = None;
        let mut i = 0;
        self.fields.retain(|f| {
            let same = f.name.eq_ignore_ascii_case(&name);
            let keep = !same || first.is_none();
            if same && first.is_none() {
                first = Some(i);
            }
            i += 1;
            keep
        });
        match first {
            Some(at) => self.fields[at] = field,
            None => self.fields.push(field),
        }
    }

    /// [`Headers::insert`] after the checks of [`Headers::try_append`].
    ///
    /// # Errors
    ///
    /// [`EncodeError::InvalidHeaderName`] or
    /// [`EncodeError::InvalidHeaderValue`]; the map is then unchanged.
    pub fn try_insert(
        &mut self,
        name: impl Into<Bytes>,
        value: impl Into<Bytes>,
    ) -> Result<(), EncodeError> {
        let (name, value) = validated(name.into(), value.into())?;
        self.insert_field(Field {
            name,
            value,
            checked: true,
        });
        Ok(())
    }

    /// Removes every field named `name` and returns the first value removed.
    pub fn remove(&mut self, name: &str) -> Option<Bytes> {
        let mut first = None;
        self.fields.retain(|f| {
            if name_eq(&f.name, name) {
                if first.is_none() {
                    first = Some(f.value.clone());
                }
                false
            } else {
                true
            }
        });
        first
    }

    /// Removes every field.
    pub fn clear(&mut self) {
        self.fields.clear();
    }

    /// The fields in order, as `(name, value)` with the name in its original
    /// case.
    pub fn iter(&self) -> HeaderIter<'_> {
        HeaderIter {
            inner: self.fields.iter(),
        }
    }

    /// Appends a field the parser already validated.
    pub(crate) fn push_parsed(&mut self, name: Bytes, value: Bytes) {
        self.fields.push(Field {
            name,
            value,
            checked: true,
        });
    }

    /// The fields with whether each is known to be valid, for the serializer.
    pub(crate) fn fields_for_encoding(&self) -> impl Iterator<Item = (&[u8], &[u8], bool)> {
        self.fields
            .iter()
            .map(|f| (&f.name[..], &f.value[..], f.checked))
    }
}

fn validated(name: Bytes, value: Bytes) -> Result<(Bytes, Bytes), EncodeError> {
    if !is_token(&name) {
        return Err(EncodeError::InvalidHeaderName);
    }
    if !is_field_value(&value) {
        return Err(EncodeError::InvalidHeaderValue);
    }
    Ok((name, value))
}

/// Iterator over the fields of [`Headers`], from [`Headers::iter`].
#[derive(Clone, Debug)]
pub struct HeaderIter<'a> {
    inner: std::slice::Iter<'a, Field>,
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|f| (&f.name[..], &f.value[..]))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl ExactSizeIterator for HeaderIter<'_> {}

impl<'a> IntoIterator for &'a Headers {
    type Item = (&'a [u8], &'a [u8]);
    type IntoIter = HeaderIter<'a>;

    fn into_iter(self) -> HeaderIter<'a> {
        self.iter()
    }
}

impl fmt::Debug for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            String::from_utf8_lossy(&self.name),
            String::from_utf8_lossy(&self.value)
        )
    }
}

impl fmt::Debug for Headers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(&self.fields).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Headers {
        let mut h = Headers::new();
        h.append("Host", "example.com");
        h.append("Accept", "a");
        h.append("ACCEPT", "b");
        h.append("X-Last", "z");
        h
    }

    #[test]
    fn lookups_are_case_insensitive_and_ordered() {
        let h = sample();
        assert_eq!(h.len(), 4);
        assert_eq!(h.get("host"), Some(&b"example.com"[..]));
        assert_eq!(h.get("accept"), Some(&b"a"[..]));
        assert_eq!(
            h.get_all("Accept").collect::<Vec<_>>(),
            vec![&b"a"[..], b"b"]
        );
        assert!(h.contains("x-last"));
        assert!(!h.contains("x-lost"));
        assert_eq!(h.get("missing"), None);
        let names: Vec<&[u8]> = h.iter().map(|(n, _)| n).collect();
        assert_eq!(names, vec![&b"Host"[..], b"Accept", b"ACCEPT", b"X-Last"]);
    }

    #[test]
    fn insert_replaces_in_place() {
        let mut h = sample();
        h.insert("accept", "c");
        let all: Vec<(&[u8], &[u8])> = h.iter().collect();
        assert_eq!(
            all,
            vec![
                (&b"Host"[..], &b"example.com"[..]),
                (b"accept", b"c"),
                (b"X-Last", b"z")
            ]
        );
        h.insert("New", "n");
        assert_eq!(h.iter().last(), Some((&b"New"[..], &b"n"[..])));
    }

    #[test]
    fn remove_returns_first_and_removes_all() {
        let mut h = sample();
        assert_eq!(h.remove("accept"), Some(Bytes::from_static(b"a")));
        assert_eq!(h.len(), 2);
        assert_eq!(h.remove("accept"), None);
        h.clear();
        assert!(h.is_empty());
    }

    #[test]
    fn try_append_rejects_injection() {
        let mut h = Headers::with_capacity(2);
        assert_eq!(
            h.try_append("X-A", "1\r\nX-Injected: 1"),
            Err(EncodeError::InvalidHeaderValue)
        );
        assert_eq!(
            h.try_append("X-A", "1\n"),
            Err(EncodeError::InvalidHeaderValue)
        );
        assert_eq!(
            h.try_append("X-A", "1\0"),
            Err(EncodeError::InvalidHeaderValue)
        );
        assert_eq!(
            h.try_append("X A", "1"),
            Err(EncodeError::InvalidHeaderName)
        );
        assert_eq!(
            h.try_append("X:A", "1"),
            Err(EncodeError::InvalidHeaderName)
        );
        assert_eq!(h.try_append("", "1"), Err(EncodeError::InvalidHeaderName));
        assert_eq!(
            h.try_insert("X\r\n", "1"),
            Err(EncodeError::InvalidHeaderName)
        );
        assert!(h.is_empty());
        h.try_append("X-A", vec![b'o', b'k']).unwrap();
        h.try_insert("x-a", Bytes::from_static(b"new")).unwrap();
        assert_eq!(h.get_str("X-A"), Some("new"));
    }

    #[test]
    fn get_str_needs_utf8() {
        let mut h = Headers::new();
        h.append("X", vec![0xff]);
        assert_eq!(h.get("x"), Some(&[0xff][..]));
        assert_eq!(h.get_str("x"), None);
        assert!(format!("{h:?}").contains("X: "));
    }
}
