//! Password hashing on a small fixed pool of threads.
//!
//! argon2 is meant to be expensive: each verification fills 19 MiB and
//! takes tens of milliseconds of one core. Run on tokio's blocking pool, a
//! flood of wrong passwords started up to 512 threads at once, each
//! allocating its own 19 MiB; glibc gave every thread an arena of its own
//! and never returned the memory (16 concurrent logins left 2.2 GiB behind,
//! 256 got the process killed). Here a fixed number of threads (one per
//! core but one) do all hashing, each reusing one block of memory allocated
//! when it starts, so resident memory does not depend on how many requests
//! arrive. Requests beyond the threads wait in a short queue; beyond the
//! queue they wait a bounded time for a place, then are told the server is
//! busy ([`PoolError::Busy`], answered 429 with `Retry-After`).
//!
//! Verification recomputes the hash from the PHC string's own algorithm,
//! version, parameters and salt, so hashes made with other settings keep
//! working; parameters beyond [`MAX_M_COST_KIB`], [`MAX_T_COST`] or
//! [`MAX_P_COST`] are refused rather than honoured, so a hash in the
//! database cannot make one login allocate gigabytes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

use crate::auth::{HashError, constant_time_eq};

/// Largest memory cost honoured in a stored hash: 64 MiB (the default is 19).
pub const MAX_M_COST_KIB: u32 = 64 * 1024;
/// Largest number of passes honoured (the default is 2).
pub const MAX_T_COST: u32 = 16;
/// Largest number of lanes honoured (the default is 1).
pub const MAX_P_COST: u32 = 8;

/// How many hashing threads and how long callers may wait for them.
#[derive(Debug, Clone)]
pub struct PoolConfig {
    /// Threads that hash; each keeps one argon2 memory block (19 MiB).
    pub threads: usize,
    /// Requests that may wait for a free thread.
    pub queue: usize,
    /// How long a request beyond the queue waits for a place before it is
    /// answered "busy".
    pub wait: Duration,
}

impl Default for PoolConfig {
    /// One thread per core but one, at least 1 and at most 4, and a queue
    /// of 8 per thread: at ~40 ms a verification, the last in the queue
    /// waits about a third of a second. One core is left to the runtime,
    /// so that however many logins arrive, observers' reports and
    /// `/healthz` still find a core free (on a 2-core server: one hashing
    /// thread, ~25 logins/s, far above what the rate limits let through
    /// for any one account or address).
    fn default() -> Self {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .saturating_sub(1)
            .clamp(1, 4);
        Self {
            threads,
            queue: 8 * threads,
            wait: Duration::from_millis(1500),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PoolError {
    #[error("every password-hashing thread is busy")]
    Busy,
    #[error("the password-hashing threads have stopped")]
    Gone,
}

type Job = Box<dyn FnOnce(&mut Vec<Block>) + Send>;

/// The hashing threads. Dropping the last handle ends them once their
/// queue is empty.
pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
    /// One permit per thread plus one per queue place.
    places: Arc<Semaphore>,
    wait: Duration,
    threads: usize,
    stats: Arc<Stats>,
}

#[derive(Default)]
struct Stats {
    running: AtomicUsize,
    peak: AtomicUsize,
}

impl HashPool {
    pub fn new(config: &PoolConfig) -> Result<Self, HashError> {
        let threads = config.threads.max(1);
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        let stats = Arc::new(Stats::default());
        let blocks = Params::DEFAULT.block_count();
        for i in 0..threads {
            let rx = rx.clone();
            let stats = stats.clone();
            std::thread::Builder::new()
                .name(format!("pollwatch-hash-{i}"))
                .spawn(move || {
                    // Allocated once and touched now, so the thread's memory
                    // is resident from the start and never grows per request
                    // (only a stored hash with a larger m, up to the cap).
                    let mut memory = vec![Block::default(); blocks];
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => break,
                        };
                        let Ok(job) = job else { break };
                        let now = stats.running.fetch_add(1, Ordering::SeqCst) + 1;
                        stats.peak.fetch_max(now, Ordering::SeqCst);
                        job(&mut memory);
                        stats.running.fetch_sub(1, Ordering::SeqCst);
                    }
                })
                .map_err(|e| HashError(format!("cannot start a hashing thread: {e}")))?;
        }
        Ok(Self {
            jobs: Mutex::new(tx),
            places: Arc::new(Semaphore::new(threads + config.queue)),
            wait: config.wait,
            threads,
            stats,
        })
    }

    /// How many threads hash.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The most hashing jobs that ever ran at the same time.
    pub fn peak_concurrency(&self) -> usize {
        self.stats.peak.load(Ordering::SeqCst)
    }

    /// Does `password` match the PHC string? False for anything that is not
    /// a usable argon2 hash.
    pub async fn verify(&self, password: &str, phc: &str) -> Result<bool, PoolError> {
        let password = password.to_owned();
        let phc = phc.to_owned();
        self.run(move |memory| verify_with(password.as_bytes(), &phc, memory))
            .await
    }

    /// An argon2id PHC string (default parameters) for a new password.
    pub async fn hash(&self, password: &str) -> Result<Result<String, HashError>, PoolError> {
        let password = password.to_owned();
        self.run(move |memory| hash_with(password.as_bytes(), memory))
            .await
    }

    /// Run `work` on a hashing thread, waiting at most the configured time
    /// for a place in the queue.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Vec<Block>) -> T + Send + 'static,
    ) -> Result<T, PoolError> {
        let permit: OwnedSemaphorePermit =
            match tokio::time::timeout(self.wait, self.places.clone().acquire_owned()).await {
                Ok(Ok(p)) => p,
                Ok(Err(_)) => return Err(PoolError::Gone),
                Err(_) => return Err(PoolError::Busy),
            };
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |memory| {
            let _ = reply.send(work(memory));
            // The place is freed only when the work is done, even if the
            // caller gave up waiting: that is what bounds the work.
            drop(permit);
        });
        self.jobs
            .lock()
            .map_err(|_| PoolError::Gone)?
            .send(job)
            .map_err(|_| PoolError::Gone)?;
        answer.await.map_err(|_| PoolError::Gone)
    }
}

/// Verify against a PHC string with its own settings, in `memory` (grown if
/// the stored parameters need more, up to the caps).
pub fn verify_with(password: &[u8], phc: &str, memory: &mut Vec<Block>) -> bool {
    let Ok(hash) = PasswordHash::new(phc) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(hash.algorithm) else {
        return false;
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&hash) else {
        return false;
    };
    if params.m_cost() > MAX_M_COST_KIB
        || params.t_cost() > MAX_T_COST
        || params.p_cost() > MAX_P_COST
    {
        tracing::warn!(
            m = params.m_cost(),
            t = params.t_cost(),
            p = params.p_cost(),
            "a stored password hash asks for more work than pollwatch allows; refusing it"
        );
        return false;
    }
    let (Some(salt), Some(expected)) = (hash.salt, hash.hash) else {
        return false;
    };
    let mut salt_buf = [0u8; 64];
    let Ok(salt) = salt.decode_b64(&mut salt_buf) else {
        return false;
    };
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let mut out = vec![0u8; expected.len()];
    Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password, salt, &mut out, &mut memory[..])
        .is_ok()
        && constant_time_eq(&out, expected.as_bytes())
}

/// Hash a new password with the default parameters in `memory`.
pub fn hash_with(password: &[u8], memory: &mut Vec<Block>) -> Result<String, HashError> {
    let err = |e: &dyn std::fmt::Display| HashError(e.to_string());
    let params = Params::DEFAULT;
    if memory.len() < params.block_count() {
        memory.resize(params.block_count(), Block::default());
    }
    let salt = SaltString::encode_b64(&rand::random::<[u8; 16]>()).map_err(|e| err(&e))?;
    let mut salt_buf = [0u8; 64];
    let salt_bytes = salt.decode_b64(&mut salt_buf).map_err(|e| err(&e))?;
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password, salt_bytes, &mut out, &mut memory[..])
        .map_err(|e| err(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| err(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| err(&e))?),
    };
    Ok(hash.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    fn small_pool(threads: usize, queue: usize, wait: Duration) -> HashPool {
        HashPool::new(&PoolConfig {
            threads,
            queue,
            wait,
        })
        .unwrap()
    }

    #[test]
    fn verifies_hashes_made_by_argon2_itself_with_any_settings() {
        let mut memory = Vec::new();
        let default = crate::auth::hash_password("correct horse battery").unwrap();
        assert!(verify_with(b"correct horse battery", &default, &mut memory));
        assert!(!verify_with(
            b"correct horse batterY",
            &default,
            &mut memory
        ));
        // Other algorithm, version and costs than ours: still verified.
        let salt = SaltString::encode_b64(&[7u8; 16]).unwrap();
        for (alg, ver, m, t, p) in [
            (Algorithm::Argon2i, Version::V0x13, 4096, 3, 2),
            (Algorithm::Argon2d, Version::V0x10, 1024, 1, 1),
            (Algorithm::Argon2id, Version::V0x13, 8192, 2, 4),
        ] {
            let params = Params::new(m, t, p, Some(24)).unwrap();
            let phc = Argon2::new(alg, ver, params)
                .hash_password(b"other settings", &salt)
                .unwrap()
                .to_string();
            assert!(verify_with(b"other settings", &phc, &mut memory), "{phc}");
            assert!(!verify_with(b"other settingz", &phc, &mut memory), "{phc}");
        }
        // Our own hashes verify with argon2's own verifier too.
        let ours = hash_with(b"made here", &mut memory).unwrap();
        assert!(crate::auth::verify_password("made here", &ours));
        assert!(!verify_with(b"x", "not a phc string", &mut memory));
        assert!(!verify_with(
            b"x",
            "$2b$12$abcdefghijklmnopqrstuv",
            &mut memory
        ));
    }

    #[test]
    fn absurd_stored_parameters_are_refused_without_allocating() {
        let mut memory = Vec::new();
        // A real hash with m just over the cap would verify if honoured.
        let salt = SaltString::encode_b64(&[9u8; 16]).unwrap();
        let params = Params::new(MAX_M_COST_KIB + 8, 1, 1, None).unwrap();
        let phc = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password(b"pw", &salt)
            .unwrap()
            .to_string();
        assert!(!verify_with(b"pw", &phc, &mut memory));
        assert!(memory.is_empty(), "nothing was allocated for it");
        let huge = phc.replace(&format!("m={}", MAX_M_COST_KIB + 8), "m=4000000");
        assert!(!verify_with(b"pw", &huge, &mut memory));
        assert!(memory.is_empty());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_hashing_never_exceeds_the_threads() {
        let pool = Arc::new(small_pool(2, 64, Duration::from_secs(60)));
        let phc = crate::auth::hash_password("right").unwrap();
        let mut tasks = Vec::new();
        for i in 0..24 {
            let pool = pool.clone();
            let phc = phc.clone();
            tasks.push(tokio::spawn(async move {
                let pw = if i % 3 == 0 { "right" } else { "wrong" };
                (i, pool.verify(pw, &phc).await)
            }));
        }
        for t in tasks {
            let (i, ok) = t.await.unwrap();
            assert_eq!(ok, Ok(i % 3 == 0), "answer {i}");
        }
        let peak = pool.peak_concurrency();
        assert!((1..=2).contains(&peak), "peak {peak} with 2 threads");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn beyond_the_queue_callers_hear_busy() {
        let pool = small_pool(1, 0, Duration::from_millis(20));
        let (release, held) = std::sync::mpsc::channel::<()>();
        let (started_tx, started) = oneshot::channel();
        let blocker = pool.run(move |_| {
            let _ = started_tx.send(());
            let _ = held.recv_timeout(Duration::from_secs(30));
        });
        tokio::pin!(blocker);
        // Drive the blocker until its job runs on the only thread.
        tokio::select! {
            _ = &mut blocker => panic!("the blocker ended early"),
            r = started => r.unwrap(),
        }
        assert_eq!(pool.verify("x", "y").await, Err(PoolError::Busy));
        release.send(()).unwrap();
        assert_eq!(blocker.await, Ok(()));
        assert_eq!(pool.verify("x", "not a hash").await, Ok(false));
    }
}
