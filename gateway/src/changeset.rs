//! Atomic change sets: the modifying requests of one `$batch` change set go to their backend as
//! one change set of the backend's own `$batch`, so the backend applies all or none of them
//! (OData 4.01 part 1, section 11.7.4; OData v2 section 2.2.7.5 ... `$batch` change sets).
//!
//! The inner requests of a change set run concurrently, each through the endpoint as usual. When
//! one reaches the point of sending its change, it hands the request to its [`Member`] slot and
//! waits. Once every member has either handed in a change or finished without one, [`ChangeSet::run`]
//! decides for all of them at once:
//!
//! - a member failed without a change (its request was refused before reaching a backend):
//!   nothing is sent, every change answers `CHANGESET_ABORTED`;
//! - the changes go to different services: nothing is sent, every change answers 501 — no single
//!   backend could apply them atomically, and the gateway does not pretend to;
//! - otherwise one backend `$batch` with one change set carries them, in request order, and each
//!   member gets its part of the backend's answer as if it had sent its request alone.
//!
//! A member hands in at most one change: an inner request that needs several backend changes
//! (none does today) is refused in a change set.

use std::sync::{Arc, Mutex};

use bizgraph_schema::execute::ExecError;
use tokio::sync::{Notify, oneshot};

use crate::upstream::{Request, Response};

/// What a member's change gets back.
pub type Outcome = Result<Response, ExecError>;

/// One change handed in.
#[derive(Debug)]
pub struct Submission {
    /// The service (index into the graph's services) and its destination, as the member saw
    /// them.
    pub service: usize,
    /// The destination of that service (checked against the graph the change set runs on).
    pub destination: String,
    /// The request as it would have been sent alone (path relative to the destination).
    pub request: Request,
    reply: oneshot::Sender<Outcome>,
}

#[derive(Debug)]
enum Slot {
    /// Still running, nothing handed in.
    Pending,
    /// Finished without handing in a change: failed (refused before reaching a backend), or
    /// succeeded with nothing to change (a read in a JSON atomicity group).
    Left { failed: bool },
    /// Handed in a change, waiting for its answer.
    Submitted(Submission),
    /// Taken by [`ChangeSet::run`].
    Taken,
}

#[derive(Debug)]
struct Shared {
    slots: Mutex<Vec<Slot>>,
    settled: Notify,
}

/// The coordination of one change set.
#[derive(Debug, Clone)]
pub struct ChangeSet {
    shared: Arc<Shared>,
}

/// One inner request's place in a change set, carried to the endpoint as a request extension.
#[derive(Debug, Clone)]
pub struct Member {
    set: ChangeSet,
    index: usize,
}

/// Why a change was not handed in.
#[derive(Debug)]
pub enum Refused {
    /// The member handed in a change already.
    SecondChange,
}

impl ChangeSet {
    /// A change set of `size` inner requests.
    pub fn new(size: usize) -> ChangeSet {
        ChangeSet {
            shared: Arc::new(Shared {
                slots: Mutex::new((0..size).map(|_| Slot::Pending).collect()),
                settled: Notify::new(),
            }),
        }
    }

    /// The slot of inner request `index`.
    pub fn member(&self, index: usize) -> Member {
        Member {
            set: self.clone(),
            index,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Slot>> {
        self.shared
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn settle_if_done(&self, slots: &[Slot]) {
        if slots.iter().all(|slot| !matches!(slot, Slot::Pending)) {
            self.shared.settled.notify_one();
        }
    }

    /// Waits until every member has handed in a change or left, then returns what was handed
    /// in (in request order) and whether any member failed without a change.
    pub async fn settled(&self) -> (Vec<Submission>, bool) {
        loop {
            let notified = self.shared.settled.notified();
            {
                let mut slots = self.lock();
                if slots.iter().all(|slot| !matches!(slot, Slot::Pending)) {
                    let mut submissions = Vec::new();
                    let mut left = false;
                    for slot in slots.iter_mut() {
                        match std::mem::replace(slot, Slot::Taken) {
                            Slot::Submitted(submission) => submissions.push(submission),
                            Slot::Left { failed } => left |= failed,
                            Slot::Pending | Slot::Taken => {}
                        }
                    }
                    return (submissions, left);
                }
            }
            notified.await;
        }
    }
}

impl Member {
    /// Hands in this member's change and waits for the change set's decision.
    pub async fn submit(
        &self,
        service: usize,
        destination: &str,
        request: Request,
    ) -> Result<Outcome, Refused> {
        let (reply, answer) = oneshot::channel();
        {
            let mut slots = self.set.lock();
            if !matches!(slots[self.index], Slot::Pending) {
                return Err(Refused::SecondChange);
            }
            slots[self.index] = Slot::Submitted(Submission {
                service,
                destination: destination.to_owned(),
                request,
                reply,
            });
            self.set.settle_if_done(&slots);
        }
        // Dropped without a reply only when the batch itself is gone.
        match answer.await {
            Ok(outcome) => Ok(outcome),
            Err(_) => Ok(Err(ExecError {
                code: "CHANGESET_ABORTED".to_owned(),
                message: "the change set ended before this change was decided".to_owned(),
                backend: None,
                status: None,
                backend_message: None,
                trace_id: None,
            })),
        }
    }

    /// Marks this member finished; one that failed without handing in a change aborts the
    /// change set.
    pub fn leave(&self, failed: bool) {
        let mut slots = self.set.lock();
        if matches!(slots[self.index], Slot::Pending) {
            slots[self.index] = Slot::Left { failed };
        }
        self.set.settle_if_done(&slots);
    }
}

impl Submission {
    /// Answers the member that handed this change in.
    pub fn answer(self, outcome: Outcome) {
        // The member may be gone (its client hung up); nothing is waiting then.
        let _ = self.reply.send(outcome);
    }
}
