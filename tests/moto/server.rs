//! Finding and starting moto_server, shared by the tests (`tests/moto/mod.rs`) and the
//! publishing benchmark (`benches/ledger.rs`): std only, so that both can include it.
#![allow(dead_code)]

use std::io::{BufRead as _, Write as _};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The moto_server program, if there is one: `$ACCORD_MOTO_SERVER` when set (and only it),
/// else `target/moto/venv/bin/moto_server` (tests/moto/install.sh), else `moto_server` on PATH.
pub fn program() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("ACCORD_MOTO_SERVER").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(p)).filter(|p| p.is_file());
    }
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"));
    let venv = target.join("moto/venv/bin/moto_server");
    if venv.is_file() {
        return Some(venv);
    }
    std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|d| d.join("moto_server"))
            .find(|p| p.is_file())
    })
}

/// Starts `program` on a free loopback port, its standard error (one line per request) to a
/// file in `dir`, and waits until it accepts connections. `auth`: moto checks credentials
/// (it knows none, so every request is refused). The caller kills the child.
///
/// # Errors
/// When it does not start, with what it printed.
pub fn start(program: &Path, dir: &Path, auth: bool) -> Result<(Child, SocketAddr, PathBuf), String> {
    let mut last = String::new();
    // A free port may be taken between finding it and moto binding it: try again.
    for attempt in 0..3 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| e.to_string())?
            .port();
        let log = dir.join(format!("moto-{port}-{attempt}.log"));
        let mut cmd = Command::new(program);
        cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).map_err(|e| e.to_string())?);
        if auth {
            cmd.env("INITIAL_NO_AUTH_ACTION_COUNT", "0");
        }
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(60) {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break;
            }
            if TcpStream::connect(addr).is_ok() {
                return Ok((child, addr, log));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        last = std::fs::read_to_string(&log).unwrap_or_default();
    }
    Err(format!("moto_server did not start: {last}"))
}

/// Creates `bucket` (moto lets an anonymous request do it).
///
/// # Errors
/// When moto does not answer 200.
pub fn create_bucket(addr: SocketAddr, bucket: &str) -> Result<(), String> {
    let mut c = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    let request =
        format!("PUT /{bucket} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
    c.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
    let mut status = String::new();
    std::io::BufReader::new(c)
        .read_line(&mut status)
        .map_err(|e| e.to_string())?;
    if status.split_whitespace().nth(1) == Some("200") {
        Ok(())
    } else {
        Err(format!("create bucket {bucket}: {status}"))
    }
}
