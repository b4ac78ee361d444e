//! Issue 13: hostile clients against `accord serve`, through raw sockets: paths that climb,
//! hide behind percent-encoding or are spelled twice, tiles out of range and widths that do not
//! exist, other methods, bodies, huge headers, slow clients beyond the connection limit; the
//! server answers each with the right 4xx or drops it, keeps serving others in bounded memory,
//! and stops gracefully on SIGTERM.

mod common;
mod publog;

use std::io::{Read as _, Write as _};
use std::time::{Duration, Instant};

use publog::*;

#[test]
fn hostile_paths_methods_bodies_and_headers_get_a_4xx_and_never_a_file() {
    let (w, _, _) = ledger_of(600);
    let srv = Served::start(&w, &[]);
    let a = srv.addr;
    let checkpoint = w.checkpoint();
    let refused = |path: &str| {
        let r = get(a, path);
        assert!(
            r.status == 400 || r.status == 404,
            "{path}: {} {}",
            r.status,
            r.text()
        );
        assert!(!r.text().contains(&checkpoint), "{path}");
        r.status
    };
    // Paths that climb, or spell a resource another way.
    for p in [
        "/tile/../checkpoint",
        "/tile/0/../../checkpoint",
        "/tile/%2e%2e/checkpoint",
        "/tile/0/%2e%2e/000",
        "/tile/entries/..%2f..%2fcheckpoint",
        "//checkpoint",
        "/./checkpoint",
        "/tile//0/000",
        "/tile/0/000/",
        "/tile/0/%30%30%30",
        "/tile/0%2f000",
        "/accord/../checkpoint",
        "/../../../../etc/passwd",
        "/checkpoint%00",
        "/tile/entries/",
        "/tile/0/002.p/",
        "/",
    ] {
        refused(p);
    }
    // Tile paths as C2SP spells them that the tree of 600 does not have: 404.
    for p in [
        "/tile/0/003",
        "/tile/entries/003",
        "/tile/entries/003.p/1",
        "/tile/0/x001/000",
        "/tile/1/000",
        "/tile/1/001.p/1",
        "/tile/2/000.p/1",
        "/tile/7/000.p/1",
        "/tile/63/000",
        "/tile/0/x018/x446/x744/x073/x709/x551/615",
        "/tile/0/002.p/89",
        "/tile/entries/002.p/89",
        "/tile/1/000.p/3",
    ] {
        assert_eq!(refused(p), 404, "{p}");
    }
    // Paths that are not tile paths at all (a level past 63, N past 2^64 - 1 or not in its
    // one spelling, a width of 0, 256 or with a leading zero): 400, naming no resource.
    for p in [
        "/tile/64/000",
        "/tile/100/000",
        "/tile/0/x018/x446/x744/x073/x709/x551/616",
        "/tile/0/1",
        "/tile/0/0000",
        "/tile/0/x000/001",
        "/tile/0/x001",
        "/tile/00/000",
        "/tile/0/00a",
        "/tile/entries",
        "/tile/0/002.p/0",
        "/tile/0/002.p/256",
        "/tile/0/002.p/088",
        "/tile/0/002.p/-1",
    ] {
        assert_eq!(refused(p), 400, "{p}");
    }
    // A narrower partial tile is the tile of an earlier tree (C2SP: logs serve the partial
    // tiles of every size they signed a checkpoint for): the first W hashes or entries.
    let all = entries(&w);
    let tiles = expected_tiles(&all, 600);
    let prefix = |full: &str, n: usize| tiles[full][..32 * n].to_vec();
    assert_eq!(get(a, "/tile/0/002.p/5").content(), prefix("tile/0/002.p/88", 5));
    assert_eq!(get(a, "/tile/0/001.p/7").content(), prefix("tile/0/001", 7));
    assert_eq!(get(a, "/tile/1/000.p/1").content(), prefix("tile/1/000.p/2", 1));
    assert_eq!(
        get(a, "/tile/entries/001.p/3").content(),
        expected_tiles(&all, 256 + 3)["tile/entries/001.p/3"]
    );
    // Methods other than GET and HEAD.
    for m in ["POST", "PUT", "DELETE", "PATCH", "TRACE"] {
        for p in ["/checkpoint", "/tile/0/000", "/api/v1/status", "/nothing"] {
            let r = request(a, m, p, &["Content-Length: 0"]);
            assert_eq!(r.status, 405, "{m} {p}");
        }
    }
    // A body on a GET: refused, not read.
    let r = exchange(
        a,
        b"GET /checkpoint HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(r.status, 413);
    // A megabyte of headers: 431, or the connection is dropped.
    let mut c = connect(a);
    let mut raw = b"GET /checkpoint HTTP/1.1\r\nHost: t\r\n".to_vec();
    for i in 0..16_384 {
        raw.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "a".repeat(50)).as_bytes());
    }
    raw.extend_from_slice(b"\r\n");
    let _ = c.write_all(&raw);
    match read_response(&mut std::io::BufReader::new(&c), false) {
        Ok(r) => assert_eq!(r.status, 431),
        Err(e) => eprintln!("huge header: dropped ({e})"),
    }
    // And the server still serves.
    assert_eq!(get(a, "/checkpoint").text(), checkpoint);
}

/// A connection that sends a request's first line and then one header byte every `every`,
/// until the server closes it; returns when it was closed (or `limit` passed: None).
fn slow_client(addr: std::net::SocketAddr, every: Duration, limit: Duration) -> Option<Duration> {
    let t = Instant::now();
    let Ok(mut c) = std::net::TcpStream::connect(addr) else {
        return Some(t.elapsed());
    };
    c.set_read_timeout(Some(Duration::from_millis(1))).unwrap();
    if c.write_all(b"GET /checkpoint HTTP/1.1\r\nX-Slow: ").is_err() {
        return Some(t.elapsed());
    }
    let mut buf = [0u8; 1024];
    while t.elapsed() < limit {
        std::thread::sleep(every);
        if c.write_all(b"a").is_err() {
            return Some(t.elapsed());
        }
        match c.read(&mut buf) {
            Ok(0) => return Some(t.elapsed()),
            Ok(_) => return Some(t.elapsed()), // an error answer (408): closed next
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut => {
            }
            Err(_) => return Some(t.elapsed()),
        }
    }
    None
}

#[test]
fn slow_clients_beyond_the_connection_limit_are_dropped_while_others_are_served() {
    let (w, _, _) = ledger_of(3);
    let srv = Served::start(&w, &["--max-connections", "8", "--header-timeout", "1"]);
    let a = srv.addr;
    let checkpoint = w.checkpoint();
    let _ = get(a, "/checkpoint");
    let rss_before = srv.rss_kib();
    // Three times as many slow clients as the server takes at once.
    let slow: Vec<_> = (0..24)
        .map(|_| {
            std::thread::spawn(move || slow_client(a, Duration::from_millis(100), Duration::from_secs(15)))
        })
        .collect();
    std::thread::sleep(Duration::from_millis(200));
    // A normal client is served meanwhile: at worst after the slow ones ahead of it in the
    // listen queue have had their second each.
    let t = Instant::now();
    let r = get(a, "/checkpoint");
    let waited = t.elapsed();
    assert_eq!(r.text(), checkpoint);
    assert!(
        waited < Duration::from_secs(8),
        "a normal client waited {waited:?}"
    );
    eprintln!("a normal client waited {waited:?} behind 24 slow ones");
    // Every slow client is dropped, each after about the header timeout.
    for h in slow {
        let closed = h.join().unwrap();
        assert!(
            closed.is_some_and(|d| d < Duration::from_secs(10)),
            "a slow client held on: {closed:?}"
        );
    }
    // An idle kept-alive connection is dropped too (it would otherwise hold a place).
    let mut c = connect(a);
    c.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let r = read_response(&mut std::io::BufReader::new(&c), false).unwrap();
    assert_eq!(r.status, 200);
    let t = Instant::now();
    let mut buf = [0u8; 16];
    let n = c.read(&mut buf).unwrap_or(0);
    assert_eq!(n, 0, "no more data, the server closes");
    assert!(
        t.elapsed() < Duration::from_secs(3),
        "an idle connection was kept {:?}",
        t.elapsed()
    );
    // Memory stayed bounded: a flood of connections with large half-sent headers.
    let mut flood = Vec::new();
    for _ in 0..64 {
        if let Ok(mut c) = std::net::TcpStream::connect(a) {
            let _ =
                c.write_all(format!("GET /checkpoint HTTP/1.1\r\nX-Big: {}", "b".repeat(15_000)).as_bytes());
            flood.push(c);
        }
    }
    let rss_during = srv.rss_kib();
    drop(flood);
    assert!(
        rss_during < rss_before + 32 * 1024,
        "RSS grew from {rss_before} KiB to {rss_during} KiB"
    );
    assert_eq!(get(a, "/checkpoint").text(), checkpoint);
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_response_in_flight_and_exits_0_promptly() {
    let (w, _, _) = ledger_of(300);
    let mut srv = Served::start(&w, &[]);
    let a = srv.addr;
    let bundle = get(a, "/tile/entries/000").body;
    // An idle kept-alive connection must not hold the shutdown up.
    let mut idle = connect(a);
    idle.write_all(b"GET /checkpoint HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    let mut idle_reader = std::io::BufReader::new(idle.try_clone().unwrap());
    assert_eq!(read_response(&mut idle_reader, false).unwrap().status, 200);
    // A client that asks for far more than the socket buffers hold (100 pipelined requests,
    // 4 KB, for a 100 KB bundle each) and does not read yet: the server is writing a response
    // when SIGTERM comes.
    let mut busy = connect(a);
    let one = b"GET /tile/entries/000 HTTP/1.1\r\nHost: t\r\n\r\n";
    let pipelined: Vec<u8> = one.iter().copied().cycle().take(one.len() * 100).collect();
    busy.write_all(&pipelined).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    srv.sigterm();
    let t = Instant::now();
    // Every response it sends is whole; then it closes.
    let mut r = std::io::BufReader::new(busy);
    let mut whole = 0;
    loop {
        match read_response(&mut r, false) {
            Ok(resp) => {
                assert_eq!(resp.status, 200);
                assert_eq!(resp.body, bundle, "response {whole} is cut");
                whole += 1;
            }
            Err(e) => {
                assert!(
                    e.kind() == std::io::ErrorKind::UnexpectedEof || e.to_string().contains("no status line"),
                    "after {whole} whole responses: {e}"
                );
                break;
            }
        }
    }
    assert!(whole >= 1, "no response finished");
    let status = srv.wait_exit(Duration::from_secs(8)).expect("serve did not stop");
    assert!(status.success(), "serve exited {status}");
    assert!(
        t.elapsed() < Duration::from_secs(7),
        "stopping took {:?}",
        t.elapsed()
    );
    assert!(whole < 100, "the stop did not stop this connection");
    eprintln!(
        "{whole} whole responses of 100 before the stop; stopped in {:?}",
        t.elapsed()
    );
}

/// A connection to `dst` from the loopback address `src` (another client, as the server sees it).
fn connect_from(src: [u8; 4], dst: std::net::SocketAddr) -> std::net::TcpStream {
    use socket2::{Domain, Socket, Type};
    let s = Socket::new(Domain::IPV4, Type::STREAM, None).unwrap();
    s.bind(&std::net::SocketAddr::from((src, 0)).into()).unwrap();
    s.connect(&dst.into()).unwrap();
    let c: std::net::TcpStream = s.into();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    c
}

// Issue 13 review, F3: one client that pipelined requests on every connection and never read
// the answers kept the server from everyone else for as long as it liked. A client holds at
// most its share of the connections, and a response it does not read for --write-timeout
// ends its connection.
#[test]
fn a_client_that_never_reads_cannot_take_the_server_from_others() {
    let (w, _, _) = ledger_of(300);
    let srv = Served::start(
        &w,
        &[
            "--max-connections",
            "16",
            "--max-connections-per-client",
            "4",
            "--write-timeout",
            "1",
        ],
    );
    let a = srv.addr;
    let checkpoint = w.checkpoint();
    // The attacker, from 127.0.0.2: ten connections, each pipelining 200 requests for a full
    // entry bundle (about 15 MB of answers, more than the socket buffers hold), never reading.
    let mut attacker = Vec::new();
    for _ in 0..10 {
        let c = connect_from([127, 0, 0, 2], a);
        let mut wr = c.try_clone().unwrap();
        wr.set_write_timeout(Some(Duration::from_secs(5))).unwrap();
        let writer = std::thread::spawn(move || {
            let req = b"GET /tile/entries/000 HTTP/1.1\r\nHost: t\r\n\r\n".repeat(200);
            let _ = wr.write_all(&req);
        });
        attacker.push((c, writer));
    }
    std::thread::sleep(Duration::from_millis(300));
    // Everyone else is served meanwhile, promptly.
    for _ in 0..5 {
        let t = Instant::now();
        assert_eq!(get(a, "/checkpoint").text(), checkpoint);
        assert!(t.elapsed() < Duration::from_secs(3), "waited {:?}", t.elapsed());
        std::thread::sleep(Duration::from_millis(300));
    }
    // Beyond its four, the attacker's connections were closed at once; the four were dropped
    // when their answers went unread: none delivered all 200.
    let mut answered = Vec::new();
    for (c, writer) in attacker {
        let _ = writer.join();
        let mut r = std::io::BufReader::new(c);
        let mut n = 0;
        while read_response(&mut r, false).is_ok_and(|x| x.status == 200) {
            n += 1;
        }
        answered.push(n);
    }
    let closed_at_once = answered.iter().filter(|&&n| n == 0).count();
    assert!(closed_at_once >= 6, "per-client limit: answers {answered:?}");
    assert!(
        answered.iter().all(|&n| n < 200),
        "a stalled connection kept being served: {answered:?}"
    );
}

// Issue 13 review, F9: the read API had no ETag; a weak validator did not match; the gzip and
// plain forms of a bundle shared one strong ETag; a request without Host was served.
#[test]
fn validators_are_weak_and_everywhere_and_http_1_1_needs_a_host() {
    let (w, _, _) = ledger_of(3);
    let srv = Served::start(&w, &[]);
    let a = srv.addr;
    for p in [
        "/checkpoint",
        "/tile/0/000.p/3",
        "/tile/entries/000.p/3",
        "/api/v1/status",
        "/api/v1/orgs",
        "/api/v1/entries/1",
        "/api/v1/proof/1",
    ] {
        let r = get(a, p);
        assert_eq!(r.status, 200, "{p}");
        let etag = r
            .header("etag")
            .unwrap_or_else(|| panic!("{p}: no ETag"))
            .to_string();
        assert!(etag.starts_with("W/\""), "{p}: {etag}");
        let strong = etag.trim_start_matches("W/");
        for v in [etag.as_str(), strong, "*", &format!("\"x\", {etag}")] {
            let r = request(a, "GET", p, &[&format!("If-None-Match: {v}")]);
            assert_eq!(r.status, 304, "{p} If-None-Match: {v}");
        }
        assert_eq!(request(a, "GET", p, &["If-None-Match: W/\"other\""]).status, 200);
    }
    // A gzip-encoded bundle carries the weak validator of its content.
    let r = request(a, "GET", "/tile/entries/000.p/3", &["Accept-Encoding: gzip"]);
    assert_eq!(r.header("content-encoding"), Some("gzip"));
    assert!(r.header("etag").is_some_and(|e| e.starts_with("W/")));
    // HTTP/1.1 without Host: 400; HTTP/1.0 without it: served.
    let r = exchange(a, b"GET /checkpoint HTTP/1.1\r\n\r\n");
    assert_eq!(r.status, 400);
    let r = exchange(a, b"GET /checkpoint HTTP/1.0\r\n\r\n");
    assert_eq!(r.status, 200);
}
