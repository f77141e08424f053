//! `set_immediate`: callbacks for the check phase (Node's `setImmediate`).
//!
//! Node runs immediates from a check handle it starts when the process starts,
//! so they run after any check handle started later (libuv runs the most
//! recently started check handle first). Immediates queued while the
//! immediates run (by an immediate, or a tick or microtask it queued) wait for
//! the next iteration; one queued by a check handle runs in this one, after
//! it, as in Node. While a referenced immediate is
//! queued the poll does not block (Node keeps an idle handle running for it).

use std::collections::VecDeque;

use eventide_reactor::slab::{Key, Slab};

use crate::event_loop::Loop;
use crate::handle::{Immediate, Task};
use crate::trace::CallbackKind;

pub(crate) struct ImmediateEntry {
    task: Task,
    pub(crate) referenced: bool,
}

#[derive(Default)]
pub(crate) struct Immediates {
    pub(crate) entries: Slab<ImmediateEntry>,
    order: VecDeque<Key>,
    /// Queued immediates that are referenced.
    pub(crate) referenced: usize,
}

impl Loop {
    /// Runs `f` in the check phase of this iteration, or of the next one if the
    /// immediates are running (Node's `setImmediate`): called from the close
    /// phase or from an immediate, `f` waits for the next iteration.
    pub fn set_immediate(&mut self, f: impl FnOnce(&mut Loop) + 'static) -> Immediate {
        let key = self.immediates.entries.insert(ImmediateEntry {
            task: Box::new(f),
            referenced: true,
        });
        self.immediates.order.push_back(key);
        self.immediates.referenced += 1;
        self.active_refs += 1;
        Immediate(key)
    }

    /// Cancels an immediate (Node's `clearImmediate`); its callback is dropped
    /// at once. Returns `false` if it already ran or was cleared.
    pub fn clear_immediate(&mut self, i: Immediate) -> bool {
        self.immediate_remove(i.0)
    }

    pub(crate) fn immediate_remove(&mut self, key: Key) -> bool {
        match self.immediates.entries.remove(key) {
            Some(e) => {
                self.release_immediate(&e);
                true
            }
            None => false,
        }
    }

    fn release_immediate(&mut self, e: &ImmediateEntry) {
        if e.referenced {
            self.immediates.referenced -= 1;
            self.active_refs -= 1;
        }
    }

    /// Whether referenced immediates are waiting (the poll must not block).
    pub(crate) fn has_ref_immediates(&self) -> bool {
        self.immediates.referenced > 0
    }

    /// Runs the immediates queued before this check phase began.
    pub(crate) fn run_immediates(&mut self) {
        let queued = self.immediates.order.len();
        for _ in 0..queued {
            let Some(key) = self.immediates.order.pop_front() else {
                break;
            };
            // Cleared immediates leave their key behind; skip it.
            if let Some(e) = self.immediates.entries.remove(key) {
                self.release_immediate(&e);
                self.invoke(CallbackKind::Immediate, "immediate", e.task);
            }
        }
    }
}
