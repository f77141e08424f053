//! Byte chunks kept until they can be handed on: a response's output behind
//! earlier responses, a body's bytes before the handler asked for them.

use bytes::Bytes;

/// Chunks in order, with their total length. Most exchanges keep none, so
/// the list is allocated on the first chunk and an empty one is a single
/// pointer (every slot of a connection holds two).
#[derive(Debug, Default)]
pub(crate) struct Chunks(Option<Box<(Vec<Bytes>, usize)>>);

impl Chunks {
    /// Appends `chunk`; returns the total length kept.
    pub(crate) fn push(&mut self, chunk: Bytes) -> usize {
        let (list, len) = &mut **self.0.get_or_insert_default();
        *len += chunk.len();
        list.push(chunk);
        *len
    }

    /// Takes every chunk, in order, leaving none.
    pub(crate) fn take(&mut self) -> Vec<Bytes> {
        self.0.take().map(|kept| kept.0).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_total_until_taken() {
        let mut kept = Chunks::default();
        assert!(kept.take().is_empty());
        assert_eq!(kept.push(Bytes::from_static(b"ab")), 2);
        assert_eq!(kept.push(Bytes::from_static(b"cde")), 5);
        assert_eq!(kept.take(), [&b"ab"[..], &b"cde"[..]]);
        assert!(kept.take().is_empty());
        assert_eq!(kept.push(Bytes::from_static(b"f")), 1);
    }
}
