//! Hostile input limits (docs/FORMAT.md section 12): each refused with a clear error, reading
//! no more than the stated limit.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;

use accord::checkpoint::{LedgerKey, Origin, SignedCheckpoint};
use accord::codec::{self, CodecError};
use accord::proofs::{ProofFile, MAX_PROOF_FILE};
use common::{attest_args, World};

// ---------------------------------------------------------------------------------------------
// Peak allocation, per thread: the global allocator of this test binary counts the bytes each
// thread has live and the highest mark since `peak_during` started. Tests run on several
// threads at once, so the counters are thread-local (const-initialised, no destructor: safe to
// use inside the allocator).
// ---------------------------------------------------------------------------------------------

thread_local! {
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
}

fn track(delta: isize) {
    let _ = LIVE.try_with(|live| {
        let now = live.get() + delta;
        live.set(now);
        let _ = PEAK.try_with(|peak| peak.set(peak.get().max(now)));
    });
}

struct Tracking;

// SAFETY: every call is forwarded to the system allocator unchanged; only counters move.
unsafe impl GlobalAlloc for Tracking {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout.
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's pointer and layout.
        unsafe { System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: forwarded with the caller's arguments.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            track(new_size as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Tracking = Tracking;

/// Runs `f` and returns its result with the most bytes it had allocated at once on this thread
/// (beyond what was live when it started).
fn peak_during<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let base = LIVE.with(Cell::get);
    PEAK.with(|p| p.set(base));
    let out = f();
    let peak = PEAK.with(Cell::get) - base;
    (out, peak.max(0) as usize)
}

#[test]
fn the_allocation_counter_sees_allocations() {
    // The instrument first: a check that cannot see 1 MiB would pass everything below.
    let (v, peak) = peak_during(|| vec![1u8; 1 << 20]);
    assert_eq!(v.len(), 1 << 20);
    assert!(peak >= 1 << 20, "peak {peak}");
    let ((), peak) = peak_during(|| ());
    assert!(peak < 1024, "peak {peak}");
}

/// Feeds `total` bytes of `fill` into a named pipe that `accord args... FIFO` reads, and returns
/// how many bytes the binary took before it stopped reading (the writer counts what the pipe
/// accepted; the pipe itself buffers at most 64 KiB beyond what was read).
fn bytes_read_through_fifo(w: &World, args: &[&str], total: u64, fill: u8) -> (u64, String) {
    let fifo = w.path("input.fifo");
    let status = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success(), "mkfifo failed");
    let child = w
        .std_cmd()
        .args(args)
        .arg(&fifo)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let chunk = vec![fill; 8192];
            let mut sent = 0u64;
            while sent < total {
                match f.write(&chunk) {
                    Ok(n) => sent += n as u64,
                    Err(_) => break, // EPIPE: the reader closed the pipe.
                }
            }
            sent
        })
    };
    let out = child.wait_with_output().unwrap();
    let sent = writer.join().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (sent, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn a_1_gib_statement_file_is_refused_reading_no_more_than_the_limit() {
    let w = World::new();
    w.init();
    let f = w.path("huge.cose");
    std::fs::File::create(&f).unwrap().set_len(1 << 30).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(
        e.contains("larger than 65000 bytes, the limit for a statement file"),
        "{e}"
    );
    // The same 1 GiB through a pipe, where the size is not known in advance: the binary stops
    // reading at the limit (plus what the pipe buffers), not at the end of the input.
    let (sent, e) = bytes_read_through_fifo(&w, &["append"], 1 << 30, 0);
    assert!(
        e.contains("larger than 65000 bytes, the limit for a statement file"),
        "{e}"
    );
    let bound = accord::statement::MAX_STATEMENT_LEN as u64 + 1 + (64 << 10) + 8192;
    assert!(
        sent <= bound,
        "the binary took {sent} bytes of a 1 GiB stream; the bound is {bound}"
    );
    // A statement of exactly the limit is read whole and refused for what it is, not its size.
    let ((), peak) = peak_during(|| {
        let b = vec![0xffu8; accord::statement::MAX_STATEMENT_LEN + 1];
        assert!(accord::statement::Statement::decode(&b).is_err());
    });
    assert!(peak < 2 * accord::statement::MAX_STATEMENT_LEN, "peak {peak}");
}

#[test]
fn cbor_claiming_huge_lengths_allocates_by_what_is_there() {
    // Heads that promise 2^32 elements, 2^64 - 1 pairs, 4 GiB of bytes: the decoder allocates
    // by the bytes present, so 9 bytes of input cannot make it reserve gigabytes.
    let claims: [&[u8]; 4] = [
        &[0x9a, 0xff, 0xff, 0xff, 0xff, 0x00],
        &[0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00, 0x00],
        &[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00],
        &[0x7b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
    ];
    for b in claims {
        let (r, peak) = peak_during(|| codec::decode(b, 1 << 20));
        assert!(r.is_err(), "{b:02x?}");
        assert!(peak < 4096, "{b:02x?}: peak allocation {peak} bytes");
    }
    // An array of 60,000 small items (in a 60 KB input): the tree costs a bounded multiple of
    // the input (each ciborium Value is 48 bytes), far from anything a length field claims.
    let mut b = vec![0x99, 0xea, 0x60];
    b.extend(std::iter::repeat_n(0x00, 60_000));
    let (r, peak) = peak_during(|| codec::decode(&b, 1 << 20));
    assert!(r.is_ok());
    assert!(peak <= 64 * b.len(), "peak {peak} for {} bytes", b.len());
}

#[test]
fn a_bundle_with_a_million_element_path_is_refused() {
    // As JSON: refused by size before parsing.
    let mut j = String::from("{\"format\":\"accord-proof/1\",\"type\":\"inclusion\",\"inclusion_path\":[");
    for i in 0..1_000_000 {
        if i > 0 {
            j.push(',');
        }
        j.push_str("\"0000000000000000000000000000000000000000000000000000000000000000\"");
    }
    j.push_str("]}");
    let (e, peak) = peak_during(|| ProofFile::parse(j.as_bytes()).unwrap_err().to_string());
    assert!(e.contains("larger than"), "{e}");
    // Refused by its length before parsing: nothing close to the 67 MB input is allocated.
    assert!(peak < 4096, "peak allocation {peak} bytes");
    // A path just under the file limit but over 128 hashes: refused by count.
    let v = codec::map([
        ("v".into(), codec::uint(1)),
        ("type".into(), codec::text("consistency")),
        ("old_checkpoint".into(), codec::bytes(vec![])),
        ("new_checkpoint".into(), codec::bytes(vec![])),
        (
            "path".into(),
            codec::Value::Array(vec![codec::bytes(vec![0u8; 32]); 129]),
        ),
    ]);
    let b = codec::encode(&v).unwrap();
    assert!(b.len() < MAX_PROOF_FILE);
    let e = ProofFile::parse(&b).unwrap_err().to_string();
    assert!(e.contains("more than the 128"), "{e}");
    // Through the binary: the file is not read beyond the limit.
    let w = World::new();
    let f = w.path("big.json");
    std::fs::write(&f, j).unwrap();
    let vkey = LedgerKey::generate(&Origin::new("x.example/l").unwrap())
        .verifier_key()
        .to_string();
    let e = w.fails(1, &["verify-proof", f.to_str().unwrap(), "--ledger-key", &vkey]);
    assert!(e.contains("the limit for a proof file"), "{e}");
}

#[test]
fn cbor_nested_10000_deep_is_refused_without_overflow() {
    let mut b = vec![0x81u8; 10_000];
    b.push(0);
    let (r, peak) = peak_during(|| codec::decode(&b, 1 << 20));
    assert_eq!(
        r,
        Err(CodecError::TooDeep {
            max: codec::MAX_DEPTH
        })
    );
    // It stops at depth 16: a few small vectors, not 10,000 levels of them.
    assert!(peak < 4096, "peak allocation {peak} bytes");
    // Also inside a statement file given to append.
    let w = World::new();
    w.init();
    let f = w.path("deep.cose");
    std::fs::write(&f, &b).unwrap();
    let e = w.fails(1, &["append", f.to_str().unwrap()]);
    assert!(e.contains("nested deeper"), "{e}");
}

#[test]
fn a_checkpoint_with_10000_signature_lines_is_refused() {
    let k = LedgerKey::generate(&Origin::new("x.example/l").unwrap());
    let cp = k
        .sign(&accord::checkpoint::Checkpoint {
            origin: k.origin().clone(),
            size: 0,
            root: accord::merkle::EMPTY_ROOT,
        })
        .unwrap();
    let mut note = cp.note.clone();
    let line = format!("— other.example {}\n", "A".repeat(96));
    for _ in 0..10_000 {
        note.extend_from_slice(line.as_bytes());
    }
    let (e, peak) = peak_during(|| {
        SignedCheckpoint::open(&note, &k.verifier_key())
            .unwrap_err()
            .to_string()
    });
    assert!(e.contains("larger than"), "{e}");
    assert!(
        peak < 4096,
        "peak allocation {peak} bytes for a {}-byte note",
        note.len()
    );
}

#[test]
fn a_1_mb_norm_id_is_refused() {
    let w = World::new();
    w.init();
    let k = w.register("acme", "Acme");
    // Linux caps one argument at 128 KiB, so the binary gets 60 KB; the library gets 1 MB.
    let huge = "a".repeat(1_000_000);
    let (e, peak) = peak_during(|| accord::norms::NormId::new(&huge).unwrap_err().to_string());
    assert!(e.len() < 500, "{e}");
    assert!(peak < 4096, "peak allocation {peak} bytes for a 1 MB id");
    let id = "a".repeat(60_000);
    let e = w.fails(2, &attest_args(&k, &[&id], "X"));
    assert!(e.contains("invalid norm id"), "{e}");
    assert!(
        e.len() < 2_000,
        "the error echoes the whole id ({} bytes)",
        e.len()
    );
}
