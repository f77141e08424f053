//! What the OS said about a descriptor: a small set of readiness bits.

use std::fmt;

/// Readiness of one watched descriptor, as reported by one poll.
///
/// It says only that an operation may now make progress; it carries no data
/// (the I/O queue "only says data is ready"). Readiness is edge-triggered, as
/// mio's: the owner must keep reading or writing until the operation returns
/// `WouldBlock` (or, on a stream socket without [`Readiness::READ_CLOSED`], a
/// read returns less than the buffer's size), or ask the loop to deliver the
/// readiness again.
///
/// ```
/// use eventide_reactor::Readiness;
///
/// let r = Readiness::READABLE | Readiness::READ_CLOSED;
/// assert!(r.is_readable() && r.is_read_closed());
/// assert!(!r.is_writable());
/// assert_eq!(format!("{r:?}"), "Readiness(READABLE | READ_CLOSED)");
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Readiness(u8);

impl Readiness {
    /// No readiness.
    pub const EMPTY: Readiness = Readiness(0);
    /// A read may make progress.
    pub const READABLE: Readiness = Readiness(1);
    /// A write may make progress.
    pub const WRITABLE: Readiness = Readiness(1 << 1);
    /// The descriptor has an error pending (read it with `take_error`).
    pub const ERROR: Readiness = Readiness(1 << 2);
    /// The peer closed its writing half: reads will reach end of stream.
    pub const READ_CLOSED: Readiness = Readiness(1 << 3);
    /// Our writing half is closed: writes will fail.
    pub const WRITE_CLOSED: Readiness = Readiness(1 << 4);
    /// Priority (out-of-band) data is available.
    pub const PRIORITY: Readiness = Readiness(1 << 5);

    const NAMES: [(Readiness, &'static str); 6] = [
        (Self::READABLE, "READABLE"),
        (Self::WRITABLE, "WRITABLE"),
        (Self::ERROR, "ERROR"),
        (Self::READ_CLOSED, "READ_CLOSED"),
        (Self::WRITE_CLOSED, "WRITE_CLOSED"),
        (Self::PRIORITY, "PRIORITY"),
    ];

    /// Converts a mio event into readiness bits.
    pub fn from_event(event: &mio::event::Event) -> Readiness {
        let mut r = Readiness::EMPTY;
        for (set, bit) in [
            (event.is_readable(), Self::READABLE),
            (event.is_writable(), Self::WRITABLE),
            (event.is_error(), Self::ERROR),
            (event.is_read_closed(), Self::READ_CLOSED),
            (event.is_write_closed(), Self::WRITE_CLOSED),
            (event.is_priority(), Self::PRIORITY),
        ] {
            if set {
                r |= bit;
            }
        }
        r
    }

    /// Whether every bit of `other` is set in `self`.
    pub const fn contains(self, other: Readiness) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no bit is set.
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// [`Readiness::READABLE`] is set.
    pub const fn is_readable(self) -> bool {
        self.contains(Self::READABLE)
    }

    /// [`Readiness::WRITABLE`] is set.
    pub const fn is_writable(self) -> bool {
        self.contains(Self::WRITABLE)
    }

    /// [`Readiness::ERROR`] is set.
    pub const fn is_error(self) -> bool {
        self.contains(Self::ERROR)
    }

    /// [`Readiness::READ_CLOSED`] is set.
    pub const fn is_read_closed(self) -> bool {
        self.contains(Self::READ_CLOSED)
    }

    /// [`Readiness::WRITE_CLOSED`] is set.
    pub const fn is_write_closed(self) -> bool {
        self.contains(Self::WRITE_CLOSED)
    }
}

impl std::ops::BitOr for Readiness {
    type Output = Readiness;
    fn bitor(self, rhs: Readiness) -> Readiness {
        Readiness(self.0 | rhs.0)
    }
}

impl std::ops::BitOrAssign for Readiness {
    fn bitor_assign(&mut self, rhs: Readiness) {
        self.0 |= rhs.0;
    }
}

impl fmt::Debug for Readiness {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Readiness(")?;
        let mut first = true;
        for (bit, name) in Self::NAMES {
            if self.contains(bit) {
                if !first {
                    f.write_str(" | ")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        if first {
            f.write_str("EMPTY")?;
        }
        f.write_str(")")
    }
}
