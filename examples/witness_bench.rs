//! How many `add-checkpoint` requests per second `accord witness serve` answers, and what a
//! consistency proof costs at 1,000,000 entries (docs/PERFORMANCE.md, issue 16).
//!
//!   cargo run --release --example witness_bench [REQUESTS] [LOGS]
//!
//! The witness runs in this process (the library's `serve::start_witness`, as the binary
//! starts it) over loopback HTTP, with its state in a temporary directory on the working
//! directory's file system (the fsync is the point). LOGS clients, one per log, each send
//! REQUESTS/LOGS checkpoints growing by one entry, with the consistency proof, one connection
//! per request.
//!
//! Beside it, in alternating rounds, the floor: the same number of checkpoints taken through
//! only the work a witness cannot avoid, in this thread, with no HTTP: the log signature
//! checked, the cosignature made, and one durable commit of the witness database (the same
//! `WitnessDb`, another directory). The ratio of the two rates is printed per round and as
//! the median.

use std::io::{BufRead as _, Read as _, Write as _};
use std::time::Instant;

use accord::checkpoint::SignedCheckpoint;
use accord::checkpoint::{Checkpoint, LedgerKey, Origin};
use accord::cosignature::CosignerKey;
use accord::merkle::{consistency_proof, leaf_hash, tree_root, Frontier, Hash};
use accord::witness::{AddCheckpoint, Cosigned, CosignedState as _, Logs, Witness};

const ROUNDS: usize = 3;

fn tree(n: u64) -> Vec<Hash> {
    let mut f = Frontier::new();
    let mut stored = Vec::new();
    for i in 0..n {
        for (idx, h) in f.push(leaf_hash(&i.to_be_bytes())) {
            if stored.len() <= idx as usize {
                stored.resize(idx as usize + 1, [0; 32]);
            }
            stored[idx as usize] = h;
        }
    }
    stored
}

fn post(addr: std::net::SocketAddr, body: &[u8]) -> u16 {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /add-checkpoint HTTP/1.1\r\nHost: w\r\nConnection: close\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    c.write_all(head.as_bytes()).unwrap();
    c.write_all(body).unwrap();
    let mut r = std::io::BufReader::new(c);
    let mut line = String::new();
    r.read_line(&mut line).unwrap();
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn main() {
    let args: Vec<u64> = std::env::args().skip(1).map(|a| a.parse().unwrap()).collect();
    let requests = args.first().copied().unwrap_or(1000);
    let logs_n = args.get(1).copied().unwrap_or(1).max(1);
    let per_log = requests / logs_n;

    // The proof at 1M.
    let t = Instant::now();
    let big = tree(1_000_000);
    let built = t.elapsed();
    let t = Instant::now();
    let mut len = 0;
    for old in [1u64, 999, 500_000, 999_999] {
        len += consistency_proof(old, 1_000_000, &big).unwrap().len();
    }
    println!(
        "tree of 1,000,000 leaves built in {built:?}; 4 consistency proofs to it ({len} hashes) in {:?}",
        t.elapsed()
    );
    let t = Instant::now();
    let root = tree_root(1_000_000, &big).unwrap();
    let p = consistency_proof(999_000, 1_000_000, &big).unwrap();
    let old_root = tree_root(999_000, &big).unwrap();
    accord::merkle::verify_consistency(999_000, 1_000_000, &old_root, &root, &p).unwrap();
    println!(
        "one proof 999,000 -> 1,000,000 made and verified in {:?}",
        t.elapsed()
    );
    drop(big);

    let state_dir = tempfile::tempdir_in(".").unwrap();
    let floor_dir = tempfile::tempdir_in(".").unwrap();
    // One set of logs per round, so that every round starts each log from size 0.
    let keys: Vec<Vec<LedgerKey>> = (0..ROUNDS)
        .map(|r| {
            (0..logs_n)
                .map(|i| LedgerKey::generate(&Origin::new(&format!("bench.example/r{r}/log{i}")).unwrap()))
                .collect()
        })
        .collect();
    let mut logs = Logs::default();
    for k in keys.iter().flatten() {
        logs.add(k.verifier_key());
    }
    let wkey = CosignerKey::generate("bench.example/witness").unwrap();
    let witness = Witness {
        key: CosignerKey::from_skey(&wkey.to_skey()).unwrap(),
        logs,
    };
    let db = accord::store::witness::WitnessDb::open(state_dir.path()).unwrap();
    let floor_db = accord::store::witness::WitnessDb::open(floor_dir.path()).unwrap();
    let server = accord::serve::start_witness("127.0.0.1:0", Default::default(), witness, db, false).unwrap();
    let addr = server.addr;
    let t_small = tree(per_log + 1);
    let n = per_log * logs_n;
    let mut ratios = Vec::new();
    for (round, round_keys) in keys.iter().enumerate() {
        // Bodies made before the clock starts: the log's signing and proofs are not the witness's.
        let bodies: Vec<Vec<(Vec<u8>, Vec<u8>)>> = round_keys
            .iter()
            .map(|k| {
                (1..=per_log)
                    .map(|size| {
                        let old = size - 1;
                        let cp = Checkpoint {
                            origin: k.origin().clone(),
                            size,
                            root: tree_root(size, &t_small).unwrap(),
                        };
                        let note = k.sign(&cp).unwrap().note;
                        let body = AddCheckpoint {
                            old,
                            proof: if old == 0 {
                                vec![]
                            } else {
                                consistency_proof(old, size, &t_small).unwrap()
                            },
                            note: note.clone(),
                        }
                        .to_bytes();
                        (body, note)
                    })
                    .collect()
            })
            .collect();

        // The floor: signature check, cosignature, durable commit; nothing else.
        let t = Instant::now();
        for (k, log) in round_keys.iter().zip(&bodies) {
            let vk = k.verifier_key();
            for (_, note) in log {
                let opened = SignedCheckpoint::open(note, &vk).unwrap();
                let text = opened.checkpoint.to_text();
                let line = wkey.cosign(text.as_bytes(), 1_700_000_000).unwrap();
                let mut stored = note.clone();
                stored.extend_from_slice(line.as_bytes());
                floor_db
                    .advance(k.origin().as_str(), &mut |_| {
                        Ok(Cosigned {
                            size: opened.checkpoint.size,
                            root: opened.checkpoint.root,
                            time: 1_700_000_000,
                            note: stored.clone(),
                        })
                    })
                    .unwrap();
            }
        }
        let floor = t.elapsed();

        // The witness over HTTP.
        let t = Instant::now();
        let threads: Vec<_> = bodies
            .into_iter()
            .map(|log| {
                std::thread::spawn(move || {
                    for (b, _) in log {
                        assert_eq!(post(addr, &b), 200);
                    }
                })
            })
            .collect();
        for th in threads {
            th.join().unwrap();
        }
        let el = t.elapsed();
        let rate = n as f64 / el.as_secs_f64();
        let floor_rate = n as f64 / floor.as_secs_f64();
        ratios.push(rate / floor_rate);
        println!(
            "round {}: witness {n} requests ({logs_n} logs, one client each) in {el:?}: {rate:.0}/s, {:.2} ms each; \
             floor (signature check, cosignature, durable commit; one thread, no HTTP) {floor_rate:.0}/s; ratio {:.2}",
            round + 1,
            el.as_secs_f64() * 1000.0 / n as f64,
            rate / floor_rate
        );
    }
    ratios.sort_by(f64::total_cmp);
    println!(
        "median ratio of the witness to the floor: {:.2}",
        ratios[ROUNDS / 2]
    );
    server.stop().unwrap();
}
