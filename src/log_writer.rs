//! Where log lines go: a buffer that one thread writes to stdout in
//! batches. A request only appends its line (one short lock, one copy); the
//! writer wakes when the buffer has filled up or every few milliseconds,
//! rather than once per line as a channel-per-line writer does, which under
//! load meant a thread wake-up and a context switch per request.
//!
//! Nothing is dropped: when stdout cannot keep up and the buffer is full, a
//! request waits for the writer instead. The guard returned with the writer
//! writes what is left at exit. Lines of one thread keep their order; lines
//! of different threads within one 10 ms batch come out thread by thread
//! (each line has its timestamp).

use std::cell::Cell;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use tracing_subscriber::fmt::MakeWriter;

/// How long a line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(10);
/// The writer is woken early once a shard holds this much.
const WAKE_AT: usize = 64 * 1024;
/// Past this, a shard's writers wait for it to drain (back-pressure, no loss).
const MAX_PENDING: usize = 1024 * 1024;

#[derive(Clone)]
pub struct BatchWriter {
    shared: Arc<Shared>,
}

/// One buffer per worker thread (by a round-robin index each thread takes
/// on its first line), so requests on different threads never share a lock;
/// only the writer thread visits them all.
struct Shared {
    shards: Box<[Shard]>,
    closed: AtomicBool,
    wake: Mutex<bool>,
    woken: Condvar,
}

#[derive(Default)]
struct Shard {
    bytes: Mutex<Vec<u8>>,
    drained: Condvar,
}

/// Writes what is left and stops the writer thread when dropped.
pub struct FlushGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl BatchWriter {
    /// A writer to `out`, and the guard that flushes it at exit.
    pub fn new(out: impl Write + Send + 'static) -> (BatchWriter, FlushGuard) {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        let shared = Arc::new(Shared {
            shards: (0..threads.clamp(1, 64))
                .map(|_| Shard::default())
                .collect(),
            closed: AtomicBool::new(false),
            wake: Mutex::new(false),
            woken: Condvar::new(),
        });
        let for_thread = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || write_batches(&for_thread, out))
            .expect("spawn the log writer thread");
        let guard = FlushGuard {
            shared: Arc::clone(&shared),
            thread: Some(thread),
        };
        (BatchWriter { shared }, guard)
    }

    fn append(&self, line: &[u8]) {
        let shard = &self.shared.shards[shard_index() % self.shared.shards.len()];
        let mut bytes = lock(&shard.bytes);
        while bytes.len() >= MAX_PENDING && !self.shared.closed.load(Ordering::Relaxed) {
            bytes = shard.drained.wait(bytes).unwrap_or_else(|e| e.into_inner());
        }
        bytes.extend_from_slice(line);
        if bytes.len() >= WAKE_AT {
            drop(bytes);
            self.shared.wake();
        }
    }
}

impl Shared {
    fn wake(&self) {
        *lock(&self.wake) = true;
        self.woken.notify_one();
    }
}

/// This thread's shard, taken round-robin on its first line.
fn shard_index() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local!(static MINE: Cell<Option<usize>> = const { Cell::new(None) });
    MINE.with(|mine| match mine.get() {
        Some(index) => index,
        None => {
            let index = NEXT.fetch_add(1, Ordering::Relaxed);
            mine.set(Some(index));
            index
        }
    })
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere while holding the lock leaves plain bytes: go on.
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

fn write_batches(shared: &Shared, mut out: impl Write) {
    let mut batch = Vec::new();
    loop {
        {
            let mut woken = lock(&shared.wake);
            if !*woken && !shared.closed.load(Ordering::Acquire) {
                woken = shared
                    .woken
                    .wait_timeout(woken, FLUSH_EVERY)
                    .map(|(guard, _)| guard)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            *woken = false;
        }
        // Read before draining: lines appended before `closed` was set are
        // in the shards by now, so this pass writes them.
        let closed = shared.closed.load(Ordering::Acquire);
        for shard in &shared.shards {
            std::mem::swap(&mut batch, &mut *lock(&shard.bytes));
            shard.drained.notify_all();
            if !batch.is_empty() {
                // Nowhere to report a failing stdout; the lines are gone then.
                let _ = out.write_all(&batch);
                batch.clear();
            }
        }
        let _ = out.flush();
        if closed {
            return;
        }
    }
}

impl Drop for FlushGuard {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's line; tracing's formatter writes it in one call.
pub struct LineWriter<'a>(&'a BatchWriter);

impl Write for LineWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.append(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for BatchWriter {
    type Writer = LineWriter<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineWriter(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A sink the test can read after the writer has stopped.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_from_many_threads_and_the_guard_flushes() {
        let sink = Sink::default();
        let (writer, guard) = BatchWriter::new(sink.clone());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let writer = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..20_000 {
                        let line = format!("thread {t} line {i}\n");
                        writer.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        drop(guard);
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 80_000, "nothing lost");
        for t in 0..4 {
            let mine: Vec<usize> = text
                .lines()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(mine, (0..20_000).collect::<Vec<_>>(), "thread {t} in order");
        }
    }
}
