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

use crate::event_loop::Loop;
use crate::handle::{Immediate, Task};
use crate::trace::CallbackKind;

pub(crate) struct ImmediateEntry {
    /// `None` once cleared: the entry stays in the queue until its turn.
    task: Option<Task>,
    pub(crate) referenced: bool,
}

/// The immediates queue. An immediate's id is its position in the sequence
/// of all immediates ever queued, so the queue itself is the lookup table:
/// the entry for `id` is at `id - first`. No id is ever reused, so a stale
/// one (run or cleared) is never taken for a newer immediate.
#[derive(Default)]
pub(crate) struct Immediates {
    queue: VecDeque<ImmediateEntry>,
    /// The id of `queue[0]`.
    first: u64,
    /// Queued immediates that are referenced.
    pub(crate) referenced: usize,
}

impl Immediates {
    /// The queued (not yet run, not cleared) immediate `id`.
    pub(crate) fn get(&self, id: u64) -> Option<&ImmediateEntry> {
        let i = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.queue.get(i).filter(|e| e.task.is_some())
    }

    pub(crate) fn get_mut(&mut self, id: u64) -> Option<&mut ImmediateEntry> {
        let i = usize::try_from(id.checked_sub(self.first)?).ok()?;
        self.queue.get_mut(i).filter(|e| e.task.is_some())
    }
}

impl Loop {
    /// Runs `f` in the check phase of this iteration, or of the next one if the
    /// immediates are running (Node's `setImmediate`): called from the close
    /// phase or from an immediate, `f` waits for the next iteration.
    pub fn set_immediate(&mut self, f: impl FnOnce(&mut Loop) + 'static) -> Immediate {
        let im = &mut self.immediates;
        let id = im.first + im.queue.len() as u64;
        im.queue.push_back(ImmediateEntry {
            task: Some(Box::new(f)),
            referenced: true,
        });
        im.referenced += 1;
        self.active_refs += 1;
        Immediate(id)
    }

    /// Cancels an immediate (Node's `clearImmediate`); its callback is dropped
    /// at once. Returns `false` if it already ran or was cleared.
    pub fn clear_immediate(&mut self, i: Immediate) -> bool {
        self.immediate_remove(i.0)
    }

    pub(crate) fn immediate_remove(&mut self, id: u64) -> bool {
        let Some(e) = self.immediates.get_mut(id) else {
            return false;
        };
        let (task, referenced) = (e.task.take(), e.referenced);
        self.release_immediate(referenced);
        drop(task);
        true
    }

    fn release_immediate(&mut self, referenced: bool) {
        if referenced {
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
        let queued = self.immediates.queue.len();
        for _ in 0..queued {
            let Some(e) = self.immediates.queue.pop_front() else {
                break;
            };
            self.immediates.first += 1;
            // A cleared immediate leaves an empty entry behind; skip it.
            if let Some(task) = e.task {
                self.release_immediate(e.referenced);
                self.invoke(CallbackKind::Immediate, "immediate", task);
            }
        }
    }
}
