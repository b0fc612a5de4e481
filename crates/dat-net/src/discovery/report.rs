//! The `doctor` report: which backends answered, what was found, how long it took.

use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dat_discovery::Topic;
use dat_discovery::schedule::Backend;

/// Most finds and errors kept per backend.
pub const MAX_KEPT: usize = 256;

/// One find, as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundRecord {
    /// Topic.
    pub topic: Topic,
    /// Peer address.
    pub addr: SocketAddrV4,
    /// Time since discovery started.
    pub after: Duration,
}

/// One backend's figures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendReport {
    /// Which backend.
    pub backend: Backend,
    /// Whether it is configured on.
    pub enabled: bool,
    /// Queries started.
    pub queries: u64,
    /// Answers received (server responses, mDNS responses with peers, DHT lookups done).
    pub answers: u64,
    /// Time from start to the first answer.
    pub first_answer: Option<Duration>,
    /// Most recent round-trip / lookup duration.
    pub last_rtt: Option<Duration>,
    /// Distinct finds (first time each address was seen), oldest first.
    pub found: Vec<FoundRecord>,
    /// Finds dropped because the `found` channel was full.
    pub dropped: u64,
    /// Recent errors (socket, timeout, bootstrap), oldest first.
    pub errors: Vec<String>,
}

/// The report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// Time since discovery started.
    pub uptime: Duration,
    /// Per backend, in the order dns, mdns, dht.
    pub backends: Vec<BackendReport>,
}

impl Report {
    /// The figures for `backend`.
    pub fn backend(&self, backend: Backend) -> Option<&BackendReport> {
        self.backends.iter().find(|b| b.backend == backend)
    }
}

/// Shared, lock-protected report that the backend tasks update.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    start: Instant,
    inner: Arc<Mutex<Vec<BackendReport>>>,
}

impl Recorder {
    pub(crate) fn new(start: Instant, enabled: &[(Backend, bool)]) -> Self {
        let rows = enabled
            .iter()
            .map(|&(backend, enabled)| BackendReport {
                backend,
                enabled,
                queries: 0,
                answers: 0,
                first_answer: None,
                last_rtt: None,
                found: Vec::new(),
                dropped: 0,
                errors: Vec::new(),
            })
            .collect();
        Recorder {
            start,
            inner: Arc::new(Mutex::new(rows)),
        }
    }

    fn with(&self, backend: Backend, f: impl FnOnce(&mut BackendReport, Duration)) {
        let now = self.start.elapsed();
        let mut rows = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = rows.iter_mut().find(|r| r.backend == backend) {
            f(r, now);
        }
    }

    pub(crate) fn query(&self, backend: Backend) {
        self.with(backend, |r, _| r.queries += 1);
    }

    pub(crate) fn answer(&self, backend: Backend, rtt: Option<Duration>) {
        self.with(backend, |r, now| {
            r.answers += 1;
            r.first_answer.get_or_insert(now);
            if rtt.is_some() {
                r.last_rtt = rtt;
            }
        });
    }

    /// Records a find; returns whether it is new for this backend.
    pub(crate) fn found(&self, backend: Backend, topic: Topic, addr: SocketAddrV4) -> bool {
        let mut new = false;
        self.with(backend, |r, now| {
            if r.found.len() < MAX_KEPT
                && !r.found.iter().any(|f| f.topic == topic && f.addr == addr)
            {
                r.found.push(FoundRecord {
                    topic,
                    addr,
                    after: now,
                });
                new = true;
            }
        });
        new
    }

    pub(crate) fn dropped(&self, backend: Backend) {
        self.with(backend, |r, _| r.dropped += 1);
    }

    pub(crate) fn error(&self, backend: Backend, message: String) {
        self.with(backend, |r, _| {
            if r.errors.len() >= 8 {
                r.errors.remove(0);
            }
            r.errors.push(message);
        });
    }

    pub(crate) fn snapshot(&self) -> Report {
        let rows = self.inner.lock().unwrap_or_else(|p| p.into_inner()).clone();
        Report {
            uptime: self.start.elapsed(),
            backends: rows,
        }
    }
}
