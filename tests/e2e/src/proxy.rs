//! A fault-injecting TCP proxy between devices and the backend.
//!
//! Each accepted connection gets one fate, drawn from a seeded generator: pass through;
//! reset at once (the request never arrives); cut the response after a random number of
//! bytes (the request was processed but the answer is lost, so the client retries what the
//! server already did); delay every chunk; or deliver the request bytes a second time on
//! another upstream connection (a duplicated request). `set_down(true)` refuses everything
//! (no signal); `block_path` cuts every request to one endpoint before it reaches the server.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Probabilities (per mille, per connection) of each fault.
#[derive(Debug, Clone, Copy)]
pub struct FaultConfig {
    /// Close the connection before forwarding anything.
    pub reset: u32,
    /// Forward the request, then cut the response after a few bytes.
    pub cut_response: u32,
    /// Delay each forwarded chunk by up to this many ms…
    pub delay_ms: u64,
    /// …on this many connections per mille.
    pub delay: u32,
    /// Send the request bytes twice (the second on a fresh upstream connection).
    pub duplicate: u32,
    /// Generator seed.
    pub seed: u64,
}

impl FaultConfig {
    /// No faults (a plain proxy, for switching the network off and on).
    pub fn none() -> Self {
        Self {
            reset: 0,
            cut_response: 0,
            delay_ms: 0,
            delay: 0,
            duplicate: 0,
            seed: 1,
        }
    }

    /// A hostile network: about one connection in three misbehaves.
    pub fn hostile(seed: u64) -> Self {
        Self {
            reset: 80,
            cut_response: 120,
            delay_ms: 200,
            delay: 100,
            duplicate: 60,
            seed,
        }
    }
}

/// What the proxy did.
#[derive(Debug, Default)]
pub struct FaultStats {
    /// Connections accepted.
    pub connections: AtomicU64,
    /// Reset before forwarding.
    pub resets: AtomicU64,
    /// Responses cut.
    pub cuts: AtomicU64,
    /// Delayed connections.
    pub delays: AtomicU64,
    /// Duplicated requests.
    pub duplicates: AtomicU64,
    /// Refused while down.
    pub refused: AtomicU64,
    /// Requests cut because they named a blocked path.
    pub blocked: AtomicU64,
    /// Bytes forwarded device → server.
    pub bytes_up: AtomicU64,
    /// Bytes forwarded server → device.
    pub bytes_down: AtomicU64,
}

impl FaultStats {
    /// (bytes up, bytes down) so far.
    pub fn bytes(&self) -> (u64, u64) {
        (
            self.bytes_up.load(Ordering::SeqCst),
            self.bytes_down.load(Ordering::SeqCst),
        )
    }
}

/// A running proxy.
#[derive(Debug)]
pub struct FaultProxy {
    /// Its port on 127.0.0.1.
    pub port: u16,
    /// Counters.
    pub stats: Arc<FaultStats>,
    down: Arc<AtomicBool>,
    faults_on: Arc<AtomicBool>,
    cut_at: Arc<AtomicU64>,
    blocked: Blocked,
}

type Blocked = Arc<Mutex<Option<Vec<u8>>>>;

#[derive(Clone, Copy)]
enum Fate {
    Pass,
    Reset,
    Cut(usize),
    Delay(u64),
    Duplicate,
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

impl FaultProxy {
    /// Starts a proxy to `127.0.0.1:upstream_port`.
    pub fn start(upstream_port: u16, config: FaultConfig) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let stats = Arc::new(FaultStats::default());
        let down = Arc::new(AtomicBool::new(false));
        let faults_on = Arc::new(AtomicBool::new(true));
        let cut_at = Arc::new(AtomicU64::new(u64::MAX));
        let blocked: Blocked = Arc::new(Mutex::new(None));
        let (s, d, f, cut, blk) = (
            stats.clone(),
            down.clone(),
            faults_on.clone(),
            cut_at.clone(),
            blocked.clone(),
        );
        std::thread::spawn(move || {
            let mut rng = Rng(config.seed.max(1));
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                s.connections.fetch_add(1, Ordering::Relaxed);
                if d.load(Ordering::SeqCst) {
                    s.refused.fetch_add(1, Ordering::Relaxed);
                    drop(client);
                    continue;
                }
                let fate = if f.load(Ordering::SeqCst) {
                    pick(&mut rng, &config)
                } else {
                    Fate::Pass
                };
                let (s, d, cut, blk) = (s.clone(), d.clone(), cut.clone(), blk.clone());
                std::thread::spawn(move || {
                    handle(client, upstream_port, fate, &s, &d, &cut, &blk);
                });
            }
        });
        FaultProxy {
            port,
            stats,
            down,
            faults_on,
            cut_at,
            blocked,
        }
    }

    /// Cuts every request whose request line names `path` (e.g. `/wipe/quarantine`) before
    /// the server sees it, as a network that loses it would; `None` lets everything through.
    pub fn block_path(&self, path: Option<&str>) {
        *self.blocked.lock().unwrap() = path.map(|p| p.as_bytes().to_vec());
    }

    /// Switches the network off (every connection refused) or on.
    pub fn set_down(&self, down: bool) {
        if !down {
            self.cut_at.store(u64::MAX, Ordering::SeqCst);
        }
        self.down.store(down, Ordering::SeqCst);
    }

    /// Takes the network down (mid-stream) once `bytes` more have gone up from now.
    pub fn cut_after_up(&self, bytes: u64) {
        let now = self.stats.bytes_up.load(Ordering::SeqCst);
        self.cut_at
            .store(now.saturating_add(bytes), Ordering::SeqCst);
    }

    /// Switches fault injection on or off (the proxy keeps forwarding).
    pub fn set_faults(&self, on: bool) {
        self.faults_on.store(on, Ordering::SeqCst);
    }
}

fn pick(rng: &mut Rng, c: &FaultConfig) -> Fate {
    let roll = (rng.next() % 1000) as u32;
    let mut edge = c.reset;
    if roll < edge {
        return Fate::Reset;
    }
    edge += c.cut_response;
    if roll < edge {
        return Fate::Cut((rng.next() % 600) as usize);
    }
    edge += c.delay;
    if roll < edge {
        return Fate::Delay(1 + rng.next() % c.delay_ms.max(1));
    }
    edge += c.duplicate;
    if roll < edge {
        return Fate::Duplicate;
    }
    Fate::Pass
}

fn handle(
    client: TcpStream,
    upstream_port: u16,
    fate: Fate,
    stats: &Arc<FaultStats>,
    down: &Arc<AtomicBool>,
    cut_at: &Arc<AtomicU64>,
    blocked: &Blocked,
) {
    if let Fate::Reset = fate {
        stats.resets.fetch_add(1, Ordering::Relaxed);
        let _ = client.shutdown(Shutdown::Both);
        return;
    }
    let Ok(upstream) = TcpStream::connect(("127.0.0.1", upstream_port)) else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    let (Ok(mut c_read), Ok(mut u_write)) = (client.try_clone(), upstream.try_clone()) else {
        return;
    };
    let delay = match fate {
        Fate::Delay(ms) => {
            stats.delays.fetch_add(1, Ordering::Relaxed);
            Some(Duration::from_millis(ms))
        }
        _ => None,
    };
    let duplicate = matches!(fate, Fate::Duplicate);
    if duplicate {
        stats.duplicates.fetch_add(1, Ordering::Relaxed);
    }
    // Client → upstream.
    let (up_stats, up_down, up_cut, up_blocked) =
        (stats.clone(), down.clone(), cut_at.clone(), blocked.clone());
    let up = std::thread::spawn(move || {
        let mut buf = vec![0u8; 64 * 1024];
        let mut first = true;
        loop {
            let n = match c_read.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if let Some(d) = delay {
                std::thread::sleep(d);
            }
            if names_blocked_path(&buf[..n], &up_blocked) {
                up_stats.blocked.fetch_add(1, Ordering::SeqCst);
                let _ = u_write.shutdown(Shutdown::Both);
                let _ = c_read.shutdown(Shutdown::Both);
                break;
            }
            let total = up_stats.bytes_up.load(Ordering::SeqCst) + n as u64;
            let limit = up_cut.load(Ordering::SeqCst);
            if total >= limit {
                // The network goes away in the middle of this transfer.
                let allowed = (n as u64).saturating_sub(total - limit) as usize;
                let _ = u_write.write_all(&buf[..allowed]);
                up_stats
                    .bytes_up
                    .fetch_add(allowed as u64, Ordering::SeqCst);
                up_down.store(true, Ordering::SeqCst);
                let _ = u_write.shutdown(Shutdown::Both);
                let _ = c_read.shutdown(Shutdown::Both);
                break;
            }
            if u_write.write_all(&buf[..n]).is_err() {
                break;
            }
            up_stats.bytes_up.fetch_add(n as u64, Ordering::SeqCst);
            if duplicate && first {
                // The same bytes again, on a connection of their own; its answer is dropped.
                let copy = buf[..n].to_vec();
                std::thread::spawn(move || {
                    if let Ok(mut dup) = TcpStream::connect(("127.0.0.1", upstream_port)) {
                        let _ = dup.write_all(&copy);
                        let _ = dup.set_read_timeout(Some(Duration::from_secs(5)));
                        let mut sink = [0u8; 4096];
                        while matches!(dup.read(&mut sink), Ok(n) if n > 0) {}
                    }
                });
            }
            first = false;
        }
        let _ = u_write.shutdown(Shutdown::Write);
    });
    // Upstream → client.
    let (Ok(mut u_read), Ok(mut c_write)) = (upstream.try_clone(), client.try_clone()) else {
        return;
    };
    let mut buf = vec![0u8; 64 * 1024];
    let mut sent = 0usize;
    loop {
        let n = match u_read.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if let Fate::Cut(limit) = fate
            && sent + n > limit
        {
            stats.cuts.fetch_add(1, Ordering::Relaxed);
            let _ = c_write.write_all(&buf[..limit.saturating_sub(sent)]);
            break;
        }
        if let Some(d) = delay {
            std::thread::sleep(d);
        }
        if c_write.write_all(&buf[..n]).is_err() {
            break;
        }
        stats.bytes_down.fetch_add(n as u64, Ordering::SeqCst);
        sent += n;
    }
    let _ = client.shutdown(Shutdown::Both);
    let _ = upstream.shutdown(Shutdown::Both);
    let _ = up.join();
}

/// Whether `chunk` starts a request (its request line) to the blocked path.
fn names_blocked_path(chunk: &[u8], blocked: &Blocked) -> bool {
    let Some(path) = blocked.lock().unwrap().clone() else {
        return false;
    };
    let line_end = chunk
        .iter()
        .position(|b| *b == b'\n')
        .unwrap_or(chunk.len());
    let line = &chunk[..line_end];
    line.windows(path.len()).any(|w| w == path.as_slice())
}
