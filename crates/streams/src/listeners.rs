//! Event listeners: several per event, added and removed at any time,
//! including from inside a listener (Node's `EventEmitter`, minus strings).

use std::fmt;

use eventide_loop_phases::Loop;
use eventide_reactor::slab::Key;

/// Identifies one listener, to remove it with `off`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ListenerId(pub(crate) u64);

/// A listener closure.
type BoxedFn<A> = Box<dyn FnMut(&mut Loop, A)>;

/// What a listener calls.
pub(crate) enum Callback<A> {
    /// A closure; `once` drops it after its first call.
    Boxed { f: BoxedFn<A>, once: bool },
    /// A plain function and the key it is called with: nothing allocated,
    /// where a closure capturing the key takes a heap block (a server's
    /// connections have several listeners each).
    Keyed(fn(&mut Loop, Key, A), Key),
    /// The same, for an event without an argument (`A` is `()`).
    KeyedNoArg(fn(&mut Loop, Key), Key),
}

impl<A> Callback<A> {
    /// A closure called on every event.
    pub(crate) fn boxed(f: impl FnMut(&mut Loop, A) + 'static) -> Self {
        Callback::Boxed {
            f: Box::new(f),
            once: false,
        }
    }

    fn call(&mut self, lp: &mut Loop, arg: A) {
        match self {
            Callback::Boxed { f, .. } => f(lp, arg),
            Callback::Keyed(f, key) => f(lp, *key, arg),
            Callback::KeyedNoArg(f, key) => f(lp, *key),
        }
    }

    fn once(&self) -> bool {
        matches!(self, Callback::Boxed { once: true, .. })
    }
}

struct Listener<A> {
    id: u64,
    f: Callback<A>,
}

/// Listeners in order, the first one held inline: most events have exactly
/// one listener, and a connection's listeners were most of its memory.
#[derive(Default)]
enum List<A> {
    #[default]
    Empty,
    One(Listener<A>),
    Many(Vec<Listener<A>>),
}

impl<A> List<A> {
    fn len(&self) -> usize {
        match self {
            List::Empty => 0,
            List::One(_) => 1,
            List::Many(v) => v.len(),
        }
    }

    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn push(&mut self, l: Listener<A>) {
        *self = match std::mem::take(self) {
            List::Empty => List::One(l),
            List::One(first) => List::Many(vec![first, l]),
            List::Many(mut v) => {
                v.push(l);
                List::Many(v)
            }
        };
    }

    /// Removes the listener with `id`; returns whether it was here.
    fn remove(&mut self, id: u64) -> bool {
        match self {
            List::One(l) if l.id == id => {
                *self = List::Empty;
                true
            }
            List::Many(v) => match v.iter().position(|l| l.id == id) {
                Some(i) => {
                    v.remove(i);
                    true
                }
                None => false,
            },
            _ => false,
        }
    }

    fn into_vec(self) -> Vec<Listener<A>> {
        match self {
            List::Empty => Vec::new(),
            List::One(l) => vec![l],
            List::Many(v) => v,
        }
    }
}

/// The listeners of one event. Emitting takes the list out, runs it, and
/// merges it back with whatever was added meanwhile, so a listener may add or
/// remove listeners (as in Node, a listener removed during an emit still runs
/// in that emit).
pub(crate) struct Listeners<A> {
    list: List<A>,
    /// Boxed: almost never needed, and a stream has several of these lists
    /// (they are much of an idle connection's memory).
    #[expect(
        clippy::box_collection,
        reason = "8 bytes instead of 24 on each list; the Vec is rarely made"
    )]
    removed_while_emitting: Option<Box<Vec<u64>>>,
    /// Emits in progress (nested when a listener causes the same event).
    emitting: u32,
}

impl<A> Default for Listeners<A> {
    fn default() -> Self {
        Listeners {
            list: List::Empty,
            removed_while_emitting: None,
            emitting: 0,
        }
    }
}

impl<A> fmt::Debug for Listeners<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Listeners({})", self.list.len())
    }
}

/// A taken-out list being emitted.
pub(crate) struct Emitting<A>(List<A>);

impl<A: Clone> Emitting<A> {
    /// Calls every listener with a copy of `arg`; returns the listeners to keep.
    pub(crate) fn call(mut self, lp: &mut Loop, arg: A) -> Self {
        match &mut self.0 {
            List::Empty => {}
            // One listener, the usual case, goes without the loop.
            List::One(only) => {
                only.f.call(lp, arg);
                if only.f.once() {
                    self.0 = List::Empty;
                }
            }
            List::Many(v) => {
                // Cloning `Bytes` is a reference-count increment; the last
                // listener gets `arg` itself.
                if let Some((last, others)) = v.split_last_mut() {
                    for l in others {
                        l.f.call(lp, arg.clone());
                    }
                    last.f.call(lp, arg);
                }
                v.retain(|l| !l.f.once());
            }
        }
        self
    }
}

impl<A> Listeners<A> {
    pub(crate) fn add(&mut self, id: u64, f: Callback<A>) {
        self.list.push(Listener { id, f });
    }

    /// Removes a listener; returns whether it was here. While an emit is in
    /// progress the id is also remembered, so that the taken-out listener is
    /// dropped when the list is restored. (Only then: `off` tries every list
    /// of a stream, and ids remembered outside an emit would pile up.)
    pub(crate) fn remove(&mut self, id: u64) -> bool {
        if self.list.remove(id) {
            return true;
        }
        if self.emitting > 0 {
            self.removed_while_emitting.get_or_insert_default().push(id);
        }
        false
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Takes the listeners out for an emit.
    pub(crate) fn take(&mut self) -> Emitting<A> {
        // A nested emit must not forget removals made during the outer one.
        if self.emitting == 0 {
            self.removed_while_emitting = None;
        }
        self.emitting += 1;
        Emitting(std::mem::take(&mut self.list))
    }

    /// Puts emitted listeners back in front of any added during the emit,
    /// dropping those removed during it.
    pub(crate) fn restore(&mut self, emitted: Emitting<A>) {
        self.emitting = self.emitting.saturating_sub(1);
        if self.list.is_empty() && self.removed_while_emitting.is_none() {
            // Nothing added or removed meanwhile (the usual case).
            self.list = emitted.0;
            return;
        }
        let removed = if self.emitting == 0 {
            self.removed_while_emitting.take().map(|r| *r)
        } else {
            self.removed_while_emitting.as_deref().cloned()
        }
        .unwrap_or_default();
        let mut kept: Vec<Listener<A>> = emitted
            .0
            .into_vec()
            .into_iter()
            .filter(|l| !removed.contains(&l.id))
            .collect();
        kept.append(&mut std::mem::take(&mut self.list).into_vec());
        self.list = match kept.len() {
            0 => List::Empty,
            1 => List::One(kept.pop().expect("one")),
            _ => List::Many(kept),
        };
    }
}
