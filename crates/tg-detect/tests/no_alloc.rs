//! The built-in path allocates nothing on a line that is not an attack, nor on a kernel
//! flood-drop line (found or not): counted by a global allocator that tallies this thread's
//! allocations.

// Counting allocations needs a GlobalAlloc, an unsafe trait.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use tg_detect::{Detectors, Outcome};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
}

// SAFETY: every call is passed on to the system allocator unchanged; the tally is a
// thread-local `Cell` with a const initialiser, which itself never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: the caller's contract for `layout` is forwarded as it is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System.alloc` with this `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: as for `dealloc`, and `new_size` is the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations_of(det: &Detectors, line: &str) -> (u64, Outcome) {
    let before = ALLOCATIONS.with(Cell::get);
    let outcome = det.detect(line.as_bytes());
    let after = ALLOCATIONS.with(Cell::get);
    (after - before, outcome)
}

#[test]
fn misses_and_kernel_lines_allocate_nothing() {
    let det = Detectors::builtin();
    let flood = "Nov 25 10:00:01 pbx kernel: [12345.678901] tollguard-flood: IN=eth0 OUT= MAC=52:54:00:12:34:56:52:54:00:65:43:21:08:00 SRC=203.0.113.9 DST=192.0.2.1 LEN=433 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF PROTO=UDP SPT=5070 DPT=5060 LEN=413";
    let cases = [
        ("[2026-11-20 19:49:01] VERBOSE[7650][C-0000a23f] pbx.c: Spawn extension (from-internal, 114, 1) exited non-zero on 'PJSIP/138-00011bf6'", false),
        ("[2026-11-20 14:21:01] NOTICE[9688][C-00009b6e] res_rtp_asterisk.c: Strict RTP learning after remote address set to: 10.20.0.13:10586", false),
        ("Nov 28 09:16:03 srv CRON[2]: pam_unix(cron:session): session opened for user root by (uid=0)", false),
        ("Nov 28 09:16:03 srv kernel: [1234567.123456] nf_conntrack: nf_conntrack: table full, dropping packet", false),
        ("Nov 28 09:16:03 srv kernel: [1234567.123456] ufw-block: IN=eth0 OUT= MAC= SRC=198.51.100.7 DST=192.0.2.1 LEN=60 PROTO=TCP SPT=40000 DPT=22", false),
        ("2026-11-25T10:00:01.123456+00:00 pbx kernel: tollguard-flood: IN=eth0 OUT= MAC= SRC=203.0.113.9 SRC=9.9.9.9 DST=192.0.2.1 LEN=1", false),
        (flood, true),
        ("2026-11-25T10:00:01.123456+00:00 pbx kernel: tollguard-flood: IN=eth0 OUT= MAC= SRC=2001:0db8:0000:0000:0000:0000:0000:0009 DST=2001:0db8:0000:0000:0000:0000:0000:0001 LEN=453 PROTO=UDP SPT=5070 DPT=5060 LEN=413", true),
    ];
    // The tally sees allocations on this thread.
    let before = ALLOCATIONS.with(Cell::get);
    drop(std::hint::black_box(vec![0u8; 64]));
    assert!(
        ALLOCATIONS.with(Cell::get) > before,
        "the counter counts nothing"
    );
    // Warm up: the hot path's `memmem` searchers are built once per process.
    for (line, _) in cases {
        det.detect(line.as_bytes());
    }
    for (line, hit) in cases {
        let (n, outcome) = allocations_of(&det, line);
        assert_eq!(matches!(outcome, Outcome::Found(_)), hit, "{line}");
        assert_eq!(n, 0, "{n} allocations for {line}");
    }
}
