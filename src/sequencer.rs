//! The sequencer: one thread that owns the ledger's write side and appends what is submitted to
//! it in group commits ([`Ledger::append_each`]): statements that arrive while a commit is in
//! progress share the next transaction, fsync and checkpoint, and each is judged on its own.
//! Every submitter is answered after the commit that holds its statement is durable, never
//! before; a refused statement is answered with its rejection and takes no other with it.
//!
//! The queue in front of it is bounded: when it is full, a submission is refused at once
//! ([`SubmitError::Busy`]) rather than waiting without limit. The sequencer knows nothing of
//! HTTP: `serve` hands it statement bytes and a function to answer with.

use std::sync::mpsc::{sync_channel, Receiver, SyncSender, TrySendError};
use std::sync::Arc;
use std::thread::JoinHandle;

use crate::checkpoint::LedgerKey;
use crate::ledger::{Ledger, Outcome};
use crate::norms::Catalogue;

/// Statements in one group commit, at most.
pub const MAX_GROUP: usize = 512;

/// Why a submission got no outcome.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The queue is full: try again shortly.
    #[error("the ledger is busy ({0} statements waiting); try again shortly")]
    Busy(usize),
    /// The sequencer has stopped (the server is shutting down).
    #[error("the ledger is closing")]
    Stopped,
    /// The commit failed (storage, key): nothing of the group was written.
    #[error("the commit failed, nothing was written: {0}")]
    Commit(String),
}

/// How a submitter is answered: once, from the sequencer's thread.
pub type Reply = Box<dyn FnOnce(Result<Outcome, SubmitError>) + Send>;

/// Called after each commit that appended something, with the new size (to publish, say).
pub type AfterCommit = Box<dyn FnMut(u64) + Send>;

/// Called once, with the reason, when a commit failed and the ledger can no longer even be
/// read (redb refuses every operation after an I/O error such as a full disk, until the
/// database is opened again): the sequencer has stopped taking submissions.
pub type OnFailure = Box<dyn FnOnce(String) + Send>;

struct Job {
    statement: Vec<u8>,
    reply: Option<Reply>,
}

impl Job {
    fn answer(mut self, r: Result<Outcome, SubmitError>) {
        if let Some(f) = self.reply.take() {
            f(r);
        }
    }
}

/// A job dropped unanswered (left in the queue of a sequencer that stopped) is answered
/// "stopped": every submitter hears back exactly once.
impl Drop for Job {
    fn drop(&mut self) {
        if let Some(f) = self.reply.take() {
            f(Err(SubmitError::Stopped));
        }
    }
}

/// A running sequencer. Dropping it (or [`Sequencer::stop`]) lets it finish the submissions
/// already queued, then ends its thread.
pub struct Sequencer {
    tx: Option<SyncSender<Job>>,
    capacity: usize,
    thread: Option<JoinHandle<()>>,
}

impl Sequencer {
    /// Starts the sequencer for `ledger` (opened for writing), signing checkpoints with `key`;
    /// at most `capacity` submissions wait at once.
    pub fn start(
        ledger: Arc<Ledger>,
        key: LedgerKey,
        catalogue: &'static Catalogue,
        capacity: usize,
        after_commit: Option<AfterCommit>,
        on_failure: Option<OnFailure>,
    ) -> Sequencer {
        let (tx, rx) = sync_channel::<Job>(capacity.max(1));
        let thread = std::thread::Builder::new()
            .name("accord-sequencer".into())
            .spawn(move || run(&ledger, &key, catalogue, &rx, after_commit, on_failure))
            .ok();
        Sequencer {
            tx: Some(tx),
            capacity,
            thread,
        }
    }

    /// Queues `statement`; `reply` is called with its outcome once the commit holding it is
    /// durable (or at once, with the reason, when it cannot be queued).
    pub fn submit(&self, statement: Vec<u8>, reply: Reply) {
        let Some(tx) = &self.tx else {
            reply(Err(SubmitError::Stopped));
            return;
        };
        match tx.try_send(Job {
            statement,
            reply: Some(reply),
        }) {
            Ok(()) => {}
            Err(TrySendError::Full(job)) => job.answer(Err(SubmitError::Busy(self.capacity))),
            Err(TrySendError::Disconnected(job)) => job.answer(Err(SubmitError::Stopped)),
        }
    }

    /// Stops taking submissions, answers those queued, and waits for the thread to end.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Sequencer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn run(
    ledger: &Ledger,
    key: &LedgerKey,
    catalogue: &Catalogue,
    rx: &Receiver<Job>,
    mut after_commit: Option<AfterCommit>,
    on_failure: Option<OnFailure>,
) {
    // Blocks for the first submission; takes whatever else is already waiting, up to a group.
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let statements: Vec<Vec<u8>> = group
            .iter_mut()
            .map(|j| std::mem::take(&mut j.statement))
            .collect();
        match ledger.append_each(&statements, key, crate::clock::now(), catalogue) {
            Ok(outcomes) => {
                let appended = outcomes.iter().any(|o| matches!(o, Outcome::Appended(_)));
                // Told before the submitters are answered: a client that reads the server
                // right after its answer sees its own entry.
                if appended {
                    if let (Some(f), Ok(size)) = (after_commit.as_mut(), ledger.size()) {
                        f(size);
                    }
                }
                for (job, outcome) in group.into_iter().zip(outcomes) {
                    job.answer(Ok(outcome));
                }
            }
            Err(e) => {
                let why = e.to_string();
                for job in group {
                    job.answer(Err(SubmitError::Commit(why.clone())));
                }
                // A commit can fail and leave the ledger usable (the next one may succeed).
                // An empty commit tells: when it fails too (the disk is still full, or redb
                // refuses everything after an I/O error until the database is opened again),
                // every later commit would fail: stop, so that the process can be restarted
                // once the cause is fixed (queued submissions are answered "stopped").
                let probe = ledger.store().write(|_| Ok::<(), crate::store::StoreError>(()));
                if let Err(probe) = probe {
                    if let Some(f) = on_failure {
                        f(format!("{why}; then: {probe}"));
                    }
                    return;
                }
            }
        }
    }
}
