//! The server pool: which server to try next and when, with exponential backoff and jitter.
//!
//! Sans-IO like the rest of this crate: time (`now`) and randomness (a `u64` source) are
//! parameters, so the policy is tested on virtual time.

use std::time::{Duration, Instant};

/// How long to wait between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Backoff {
    /// Delay after the first failed round over the pool.
    pub base: Duration,
    /// Longest delay, however many attempts failed.
    pub max: Duration,
    /// Up to this much random time is added to each delay, so that many clients that lost
    /// the same server do not all come back at the same instant.
    pub jitter: Duration,
}

/// 10 ms doubling per failed round up to 4 s, plus up to 10 ms of jitter: a server that
/// restarts quickly is back in tens of milliseconds, a dead one is tried every 4 s.
impl Default for Backoff {
    fn default() -> Self {
        Self {
            base: Duration::from_millis(10),
            max: Duration::from_secs(4),
            jitter: Duration::from_millis(10),
        }
    }
}

impl Backoff {
    /// A policy with the given base, maximum and jitter.
    pub fn new(base: Duration, max: Duration, jitter: Duration) -> Self {
        Self { base, max, jitter }
    }

    /// The delay before attempt `attempt` (0 is the first retry after a failed round),
    /// without jitter: `base * 2^attempt`, capped at `max`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX);
        self.base.saturating_mul(factor).min(self.max)
    }

    /// [`Backoff::delay`] plus a jitter drawn from `random`.
    pub fn delay_with_jitter(&self, attempt: u32, random: u64) -> Duration {
        let jitter_ns = self.jitter.as_nanos() as u64;
        let extra = if jitter_ns == 0 {
            0
        } else {
            random % (jitter_ns + 1)
        };
        self.delay(attempt) + Duration::from_nanos(extra)
    }
}

/// One server of the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolEntry<S> {
    /// The server's address.
    pub server: S,
    /// True when learned from the cluster (INFO `connect_urls`) rather than given.
    pub discovered: bool,
    /// Failed attempts since the last successful connection to it.
    pub failed_attempts: u32,
}

/// Reconnect limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolLimits {
    /// Most failed attempts per server before it is removed from the pool (`None`: no limit).
    pub max_attempts_per_server: Option<u32>,
    /// Most failed attempts in total since the last success before giving up (`None`: never).
    pub max_attempts_total: Option<u64>,
}

impl PoolLimits {
    /// Limits per server and in total (`None`: no limit).
    pub fn new(max_attempts_per_server: Option<u32>, max_attempts_total: Option<u64>) -> Self {
        Self {
            max_attempts_per_server,
            max_attempts_total,
        }
    }
}

/// The pool of servers a client may connect to.
///
/// ```
/// use std::time::{Duration, Instant};
/// use rnats_proto::{Backoff, PoolLimits, ServerPool};
///
/// let now = Instant::now();
/// let mut pool = ServerPool::new(vec!["a", "b"], Backoff::default(), PoolLimits::default());
/// // Right after a disconnect the next server is tried at once...
/// let (first, at) = pool.next_attempt(now, 0).unwrap();
/// assert_eq!(at, now);
/// pool.failed(&first);
/// let (second, at) = pool.next_attempt(now, 0).unwrap();
/// assert_ne!(first, second);
/// assert_eq!(at, now);
/// pool.failed(&second);
/// // ...and once every server failed, the next round waits for the backoff.
/// let (_, at) = pool.next_attempt(now, 0).unwrap();
/// assert_eq!(at, now + Duration::from_millis(10));
/// ```
#[derive(Debug, Clone)]
pub struct ServerPool<S> {
    entries: Vec<PoolEntry<S>>,
    backoff: Backoff,
    limits: PoolLimits,
    /// Index of the server to try next.
    cursor: usize,
    /// Attempts made in the current round (since the last success or full round).
    tried_in_round: usize,
    /// Completed rounds where every server failed.
    failed_rounds: u32,
    /// When the current round's waiting started.
    round_started: Option<Instant>,
    total_failures: u64,
}

impl<S: Clone + PartialEq> ServerPool<S> {
    /// A pool of the given servers, tried in the given order (shuffle before, if wanted).
    pub fn new(servers: Vec<S>, backoff: Backoff, limits: PoolLimits) -> Self {
        let mut pool = Self {
            entries: Vec::with_capacity(servers.len()),
            backoff,
            limits,
            cursor: 0,
            tried_in_round: 0,
            failed_rounds: 0,
            round_started: None,
            total_failures: 0,
        };
        for s in servers {
            if !pool.entries.iter().any(|e| e.server == s) {
                pool.entries.push(PoolEntry {
                    server: s,
                    discovered: false,
                    failed_attempts: 0,
                });
            }
        }
        pool
    }

    /// Shuffles the pool with `random` (a source of random numbers), Fisher–Yates.
    pub fn shuffle(&mut self, random: &mut dyn FnMut() -> u64) {
        for i in (1..self.entries.len()).rev() {
            let j = (random() % (i as u64 + 1)) as usize;
            self.entries.swap(i, j);
        }
    }

    /// The servers, in the order they are tried.
    pub fn entries(&self) -> &[PoolEntry<S>] {
        &self.entries
    }

    /// Number of servers.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no server is left.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Adds servers learned from the cluster; returns those that were new.
    pub fn add_discovered(&mut self, servers: impl IntoIterator<Item = S>) -> Vec<S> {
        let mut added = Vec::new();
        for s in servers {
            if !self.entries.iter().any(|e| e.server == s) {
                self.entries.push(PoolEntry {
                    server: s.clone(),
                    discovered: true,
                    failed_attempts: 0,
                });
                added.push(s);
            }
        }
        added
    }

    /// Marks `server` as the one connected to: every counter starts over, and the next
    /// attempt after a disconnect begins with the server after it.
    pub fn connected(&mut self, server: &S) {
        if let Some(i) = self.entries.iter().position(|e| &e.server == server) {
            self.entries[i].failed_attempts = 0;
            self.cursor = (i + 1) % self.entries.len();
        }
        self.tried_in_round = 0;
        self.failed_rounds = 0;
        self.round_started = None;
        self.total_failures = 0;
    }

    /// Records a failed attempt to `server`. A server over its attempt limit leaves the pool.
    pub fn failed(&mut self, server: &S) {
        self.total_failures += 1;
        if let Some(i) = self.entries.iter().position(|e| &e.server == server) {
            self.entries[i].failed_attempts += 1;
            let over = self
                .limits
                .max_attempts_per_server
                .is_some_and(|max| self.entries[i].failed_attempts >= max);
            if over {
                self.entries.remove(i);
                if self.cursor > i {
                    self.cursor -= 1;
                }
                if !self.entries.is_empty() {
                    self.cursor %= self.entries.len();
                }
            }
        }
    }

    /// True when the server is in the pool.
    pub fn contains(&self, server: &S) -> bool {
        self.entries.iter().any(|e| &e.server == server)
    }

    /// Failed attempts since the last success.
    pub fn total_failures(&self) -> u64 {
        self.total_failures
    }

    /// Which server to try next and not before when; `None` when the limits are exhausted
    /// or no server is left: give up.
    ///
    /// A round tries every server once without waiting; after a round where all failed, the
    /// next round starts after the backoff delay (growing each round, plus jitter drawn from
    /// `random`).
    pub fn next_attempt(&mut self, now: Instant, random: u64) -> Option<(S, Instant)> {
        let backoff = self.backoff;
        self.next_attempt_with(now, |round| backoff.delay_with_jitter(round, random))
    }

    /// [`ServerPool::next_attempt`] with a custom delay: `delay(round)` is the wait before
    /// round `round + 1` (0 after the first round where every server failed).
    pub fn next_attempt_with(
        &mut self,
        now: Instant,
        delay: impl FnOnce(u32) -> Duration,
    ) -> Option<(S, Instant)> {
        if self.entries.is_empty() {
            return None;
        }
        if self
            .limits
            .max_attempts_total
            .is_some_and(|max| self.total_failures >= max)
        {
            return None;
        }
        if self.tried_in_round >= self.entries.len() {
            self.tried_in_round = 0;
            let delay = delay(self.failed_rounds);
            self.failed_rounds = self.failed_rounds.saturating_add(1);
            self.round_started = Some(now + delay);
        }
        let at = match self.round_started {
            Some(t) if t > now => t,
            _ => now,
        };
        self.cursor %= self.entries.len();
        let server = self.entries[self.cursor].server.clone();
        self.cursor = (self.cursor + 1) % self.entries.len();
        self.tried_in_round += 1;
        Some((server, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::new(ms(100), ms(1000), ms(0));
        let delays: Vec<_> = (0..6).map(|a| b.delay(a)).collect();
        assert_eq!(
            delays,
            [ms(100), ms(200), ms(400), ms(800), ms(1000), ms(1000)]
        );
        assert_eq!(b.delay(u32::MAX), ms(1000));
    }

    #[test]
    fn jitter_is_bounded() {
        let b = Backoff::new(ms(100), ms(1000), ms(50));
        for r in [0, 1, 49_999_999, 50_000_000, 50_000_001, u64::MAX] {
            let d = b.delay_with_jitter(0, r);
            assert!(d >= ms(100) && d <= ms(150), "{d:?}");
        }
    }

    /// All servers down: attempts are spaced by the policy, on virtual time.
    #[test]
    fn all_down_rounds_are_spaced_by_backoff() {
        let t0 = Instant::now();
        let mut pool = ServerPool::new(
            vec!["a", "b", "c"],
            Backoff::new(ms(100), ms(400), ms(0)),
            PoolLimits::default(),
        );
        let mut now = t0;
        let mut schedule = Vec::new();
        for _ in 0..12 {
            let (s, at) = pool.next_attempt(now, 7).unwrap();
            now = at;
            schedule.push((s, (at - t0).as_millis()));
            pool.failed(&s);
        }
        let times: Vec<u128> = schedule.iter().map(|x| x.1).collect();
        assert_eq!(
            times,
            [0, 0, 0, 100, 100, 100, 300, 300, 300, 700, 700, 700]
        );
        let order: Vec<&str> = schedule.iter().map(|x| x.0).collect();
        assert_eq!(&order[..6], ["a", "b", "c", "a", "b", "c"]);
    }

    #[test]
    fn success_resets_and_starts_after_the_connected_server() {
        let t0 = Instant::now();
        let mut pool = ServerPool::new(
            vec!["a", "b", "c"],
            Backoff::default(),
            PoolLimits::default(),
        );
        for _ in 0..5 {
            let (s, _) = pool.next_attempt(t0, 0).unwrap();
            pool.failed(&s);
        }
        pool.connected(&"b");
        assert_eq!(pool.total_failures(), 0);
        let (s, at) = pool.next_attempt(t0, 0).unwrap();
        assert_eq!((s, at), ("c", t0));
    }

    #[test]
    fn limits_give_up() {
        let t0 = Instant::now();
        let limits = PoolLimits {
            max_attempts_per_server: Some(2),
            max_attempts_total: None,
        };
        let mut pool = ServerPool::new(vec!["a", "b"], Backoff::default(), limits);
        let mut tries = 0;
        while let Some((s, _)) = pool.next_attempt(t0, 0) {
            pool.failed(&s);
            tries += 1;
        }
        assert_eq!(tries, 4);
        assert!(pool.is_empty());

        let limits = PoolLimits {
            max_attempts_per_server: None,
            max_attempts_total: Some(5),
        };
        let mut pool = ServerPool::new(vec!["a", "b"], Backoff::default(), limits);
        let mut tries = 0;
        while let Some((s, _)) = pool.next_attempt(t0, 0) {
            pool.failed(&s);
            tries += 1;
        }
        assert_eq!(tries, 5);
    }

    #[test]
    fn discovery_adds_only_new_servers() {
        let mut pool = ServerPool::new(
            vec!["a", "a", "b"],
            Backoff::default(),
            PoolLimits::default(),
        );
        assert_eq!(pool.len(), 2);
        assert_eq!(pool.add_discovered(["b", "c", "c"]), ["c"]);
        assert!(pool.entries()[2].discovered);
        assert!(!pool.entries()[0].discovered);
    }

    #[test]
    fn shuffle_is_a_permutation() {
        let mut pool = ServerPool::new(
            vec![1, 2, 3, 4, 5],
            Backoff::default(),
            PoolLimits::default(),
        );
        let mut seed = 12345u64;
        pool.shuffle(&mut || {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
            seed >> 33
        });
        let mut got: Vec<i32> = pool.entries().iter().map(|e| e.server).collect();
        got.sort_unstable();
        assert_eq!(got, [1, 2, 3, 4, 5]);
    }
}
