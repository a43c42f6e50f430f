//! A counting global allocator: live and peak heap bytes of the process, and
//! a hard ceiling that stops the process (after saving the input being run)
//! before a hostile input can take the machine's memory.
//!
//! Allocators must not unwind and must not allocate, so the ceiling is
//! enforced with raw `write(2)` calls and `abort`; everything else is atomics.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

pub struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
/// Live bytes above which the process stops (`usize::MAX`: no ceiling).
static CEILING: AtomicUsize = AtomicUsize::new(usize::MAX);
/// The input being run, written to `SAVE_FD` when the ceiling is hit.
static INPUT_PTR: AtomicPtr<u8> = AtomicPtr::new(std::ptr::null_mut());
static INPUT_LEN: AtomicUsize = AtomicUsize::new(0);
static SAVE_FD: AtomicI32 = AtomicI32::new(-1);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters are plain atomics and the ceiling path never returns.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        grow(layout.size());
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if new_size > layout.size() {
            grow(new_size - layout.size());
        } else {
            LIVE.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
        }
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

fn grow(bytes: usize) {
    let live = LIVE.fetch_add(bytes, Ordering::Relaxed).saturating_add(bytes);
    PEAK.fetch_max(live, Ordering::Relaxed);
    if live > CEILING.load(Ordering::Relaxed) {
        ceiling_hit(bytes, live);
    }
}

#[cold]
fn ceiling_hit(request: usize, live: usize) -> ! {
    raw_write(2, b"\nfuzz: memory ceiling exceeded: a request of ");
    raw_number(request);
    raw_write(2, b" bytes would make ");
    raw_number(live);
    raw_write(2, b" bytes live\n");
    stop()
}

/// Saves the input being run (when one is armed) and stops the process.
pub fn stop() -> ! {
    let fd = SAVE_FD.load(Ordering::Relaxed);
    let ptr = INPUT_PTR.load(Ordering::Relaxed);
    let len = INPUT_LEN.load(Ordering::Relaxed);
    if fd >= 0 && !ptr.is_null() {
        // SAFETY: the pointer and length describe the input slice, which the
        // harness keeps alive while it is armed.
        let input = unsafe { std::slice::from_raw_parts(ptr, len) };
        raw_write(fd, input);
        raw_write(2, b"fuzz: the input was saved (see the path printed when the target started)\n");
    }
    std::process::abort()
}

fn raw_number(mut n: usize) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    raw_write(2, &digits[at..]);
}

fn raw_write(fd: i32, mut bytes: &[u8]) {
    while !bytes.is_empty() {
        // SAFETY: writes from a valid slice to a descriptor; errors end the loop.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n <= 0 {
            return;
        }
        bytes = &bytes[n as usize..];
    }
}

/// Heap bytes live now.
pub fn live() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// Starts a new peak measurement from the bytes live now.
pub fn reset_peak() {
    PEAK.store(live(), Ordering::Relaxed);
}

/// The most bytes live since the last `reset_peak`.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}

/// Arms the ceiling for one input: live bytes may not pass `ceiling`; when
/// they would, `input` is written to `save_fd` (if not negative) and the
/// process aborts. The caller keeps `input` alive until `disarm`.
pub fn arm(ceiling: usize, input: &[u8], save_fd: i32) {
    INPUT_PTR.store(input.as_ptr().cast_mut(), Ordering::Relaxed);
    INPUT_LEN.store(input.len(), Ordering::Relaxed);
    SAVE_FD.store(save_fd, Ordering::Relaxed);
    CEILING.store(ceiling, Ordering::Relaxed);
}

pub fn disarm() {
    CEILING.store(usize::MAX, Ordering::Relaxed);
    INPUT_PTR.store(std::ptr::null_mut(), Ordering::Relaxed);
    INPUT_LEN.store(0, Ordering::Relaxed);
}
