//! Starting and stopping a fresh standalone ZooKeeper server for one recording.
//!
//! Each [`Server`] gets its own temporary directory (config, data dir, log) and a free port on
//! 127.0.0.1, and is stopped by its PID (SIGTERM, then SIGKILL) when dropped, so a failing or
//! panicking recording never leaves a server behind. The directory is deleted afterwards.
//!
//! The server runs under a watchdog, a few lines of `sh` ([`WATCHDOG`]) holding the read end
//! of a pipe whose write end only this process has: when this process ends in any way, SIGKILL
//! included, the pipe closes and the watchdog stops the server and removes its directory. So a
//! real server never outlives the `zksim` that started it. (A parent-death signal would need
//! `unsafe` and stops at the thread that spawned the child; a pipe's end is the process's.)
//!
//! [`Server::restart`] stops the server and starts a new one on the same directory and port
//! through the same watchdog (a `restart` line on the pipe), so the guarantee holds across
//! restarts too: at every moment one watchdog holds the pipe and the one server it runs.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How to start the server.
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// The `java` executable.
    pub java: String,
    /// The class path holding `zookeeper.jar` and an slf4j binding.
    pub classpath: String,
    /// The server's tickTime in ms.
    pub tick_ms: u32,
    /// How long to wait for `srvr` to report `Mode: standalone`.
    pub start_timeout: Duration,
}

/// The default class path: the Debian package's jar plus slf4j-nop (silent) if present, else
/// slf4j-simple.
pub fn default_classpath() -> String {
    let nop = "/usr/share/java/slf4j-nop.jar";
    let binding = if Path::new(nop).exists() {
        nop
    } else {
        "/usr/share/java/slf4j-simple.jar"
    };
    format!("/usr/share/java/zookeeper.jar:{binding}")
}

/// The watchdog: `$1` is the server's directory, the rest its command line. It starts the
/// server, prints its PID, and waits for either to happen: the server exits (the watchdog then
/// exits with its status), or its stdin gives it a line or reaches end of file. End of file
/// (the `zksim` holding the other end asked it to stop, or is gone): SIGTERM, SIGKILL 5 s
/// later if need be, and the directory removed. The line `restart`: the same stop, but the
/// directory is kept (a marker file tells the loop so) and, once the old server has exited, a
/// new one is started with the same command line and its PID printed.
/// (An asynchronous list's stdin is /dev/null in a shell without job control, so the pipe is
/// kept as fd 3 for the guard that reads it. SIGPIPE is ignored while the PID is printed: a
/// `zksim` that died during a restart must not kill the watchdog before its guard sees the end
/// of file and stops the new server.)
pub const WATCHDOG: &str = r#"dir=$1; shift
exec 3<&0
while :; do
  "$@" </dev/null 3<&- >>"$dir/server.log" 2>&1 &
  pid=$!
  trap '' PIPE
  echo "$pid"
  trap - PIPE
  ( if read -r line <&3 && [ "$line" = restart ]; then : >"$dir/restarting"; fi
    kill -TERM "$pid"; sleep 5; kill -KILL "$pid" ) >/dev/null 2>&1 &
  guard=$!
  wait "$pid"
  status=$?
  kill "$guard" 2>/dev/null
  [ -e "$dir/restarting" ] || break
  rm -f "$dir/restarting"
done
rm -rf "$dir"
exit "$status"
"#;

/// A running server; stopped and cleaned up on drop.
#[derive(Debug)]
pub struct Server {
    /// Stops the server if the process is interrupted (registered once its PID is known).
    _on_interrupt: Option<crate::interrupt::Guard>,
    /// Removes the directory if the process is interrupted (registered before it is made, so
    /// an interruption at any point of the start leaves nothing; runs after the stop).
    _remove_on_interrupt: crate::interrupt::Guard,
    /// The watchdog ([`WATCHDOG`]); it exits when the server does.
    child: Option<Child>,
    /// The write end of the watchdog's stdin: closing it stops the server, a `restart` line
    /// restarts it.
    stop_pipe: Option<ChildStdin>,
    /// The watchdog's stdout, where it prints each server's PID.
    pids: Option<BufReader<ChildStdout>>,
    /// The running server's own PID (shared with the interrupt cleanup, which must kill the
    /// server running when the interruption comes, not the first one).
    pid: Arc<AtomicU32>,
    /// How long to wait for a server to serve.
    start_timeout: Duration,
    dir: PathBuf,
    port: u16,
    /// The `srvr` output seen when the server (or, after a restart, the new one) became ready.
    pub srvr_at_start: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A port that was free a moment ago (bind port 0 and let the OS choose).
pub fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("cannot bind a port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("cannot read the bound port: {e}"))
}

impl Server {
    /// Starts a fresh server and waits until it serves.
    pub fn start(cfg: &ServerConfig) -> Result<Server, String> {
        let port = free_port()?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("zksim-record-{}-{n}-{port}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let at = dir.clone();
        let remove_on_interrupt = crate::interrupt::on_interrupt(move || {
            let _ = std::fs::remove_dir_all(&at);
        });
        let data = dir.join("data");
        std::fs::create_dir_all(&data)
            .map_err(|e| format!("cannot create {}: {e}", data.display()))?;
        // From here on, Drop removes the directory even if starting fails.
        let mut server = Server {
            _on_interrupt: None,
            _remove_on_interrupt: remove_on_interrupt,
            child: None,
            stop_pipe: None,
            pids: None,
            pid: Arc::new(AtomicU32::new(0)),
            start_timeout: cfg.start_timeout,
            dir: dir.clone(),
            port,
            srvr_at_start: String::new(),
        };
        let cfg_path = dir.join("zoo.cfg");
        let cfg_text = format!(
            "tickTime={tick}\n\
             initLimit=10\n\
             syncLimit=5\n\
             dataDir={data}\n\
             clientPort={port}\n\
             clientPortAddress=127.0.0.1\n\
             admin.enableServer=false\n\
             4lw.commands.whitelist=*\n\
             maxClientCnxns=0\n",
            tick = cfg.tick_ms,
            data = data.display(),
        );
        std::fs::write(&cfg_path, cfg_text)
            .map_err(|e| format!("cannot write {}: {e}", cfg_path.display()))?;
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("zksim-watchdog")
            .arg(&dir)
            .arg(&cfg.java)
            .arg("-Xmx512m")
            .arg("-cp")
            .arg(&cfg.classpath)
            .arg("org.apache.zookeeper.server.quorum.QuorumPeerMain")
            .arg(&cfg_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start the watchdog `sh` for `{}`: {e}", cfg.java))?;
        server.stop_pipe = child.stdin.take();
        server.pids = child.stdout.take().map(BufReader::new);
        server.child = Some(child);
        let pid = server.read_pid()?;
        server.pid.store(pid, Ordering::SeqCst);
        let running = Arc::clone(&server.pid);
        server._on_interrupt = Some(crate::interrupt::on_interrupt(move || {
            // SIGKILL by PID (the server needs no clean stop: it is thrown away); the other
            // guard then removes the directory. The watchdog would do both too, but only once
            // this process is gone.
            kill_pid(running.load(Ordering::SeqCst));
            // A signal is delivered, not awaited: exit only once the port is closed (5 s at
            // most), so nothing listens after this process is gone.
            wait_closed(
                SocketAddr::from(([127, 0, 0, 1], port)),
                Duration::from_secs(5),
            );
        }));
        server.wait_ready(cfg.start_timeout)?;
        Ok(server)
    }

    /// Stops the server (SIGTERM, as an operator would; SIGKILL 5 s later if it is still up)
    /// and, once its JVM has exited, starts a new one on the same data directory and port,
    /// waiting until it serves. Every client connection dies with the old server. Returns
    /// how long the old server took to exit (about 330 ms here): it runs, and may expire
    /// sessions, until then.
    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    pub fn restart(&mut self) -> Result<Duration, String> {
        let asked = Instant::now();
        let pipe = self
            .stop_pipe
            .as_mut()
            .ok_or("the server was already stopped")?;
        pipe.write_all(b"restart\n")
            .and_then(|()| pipe.flush())
            .map_err(|e| format!("cannot ask the watchdog to restart the server: {e}"))?;
        // The watchdog prints the new PID only after the old server has exited.
        let pid = self.read_pid().map_err(|e| {
            format!(
                "the ZooKeeper server did not start again: {e}; its log ends:\n{}",
                self.log_tail()
            )
        })?;
        self.pid.store(pid, Ordering::SeqCst);
        let stopped = asked.elapsed();
        self.wait_ready(self.start_timeout)?;
        Ok(stopped)
    }

    /// The next PID the watchdog prints.
    fn read_pid(&mut self) -> Result<u32, String> {
        let mut line = String::new();
        let read = self.pids.as_mut().map(|out| out.read_line(&mut line));
        match (read, line.trim().parse::<u32>()) {
            (Some(Ok(_)), Ok(pid)) => Ok(pid),
            _ => Err(format!(
                "the watchdog did not report the server's PID (it printed {line:?})"
            )),
        }
    }

    /// The client address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The end of the server's log, for error messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(15)..].join("\n")
    }

    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    return Err(format!(
                        "the ZooKeeper server exited during startup ({status}); its log ends:\n{}",
                        self.log_tail()
                    ));
                }
            }
            // A short read timeout: during startup the server sometimes accepts a connection
            // and then neither answers nor closes it.
            match four_letter_word_within(self.addr(), "srvr", Duration::from_millis(500)) {
                Ok(out) if out.contains("Mode: standalone") => {
                    self.srvr_at_start = out;
                    return Ok(());
                }
                other => {
                    if std::env::var_os("ZKSIM_RECORD_TRACE").is_some_and(|v| v == "1") {
                        eprintln!("[zksim record] readiness probe: {other:?}");
                    }
                }
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "the ZooKeeper server on port {} did not report `Mode: standalone` within {} s; \
                     its log ends:\n{}",
                    self.port,
                    timeout.as_secs_f64(),
                    self.log_tail()
                ));
            }
            // Often, so that the time between the server's start (when a restarted server's
            // sessions' timeouts start over) and the recording going on stays short.
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    // the recorder talks to a real server in real time
    #[allow(clippy::disallowed_methods)]
    fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // End of file on the watchdog's stdin: it sends SIGTERM, then SIGKILL after 5 s.
        drop(self.stop_pipe.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            match child.try_wait() {
                Ok(Some(_)) | Err(_) => break,
                Ok(None) if Instant::now() >= deadline => {
                    let pid = self.pid.load(Ordering::SeqCst);
                    eprintln!(
                        "warning: the ZooKeeper server (pid {pid}) outlived SIGTERM and its \
                         watchdog; sending SIGKILL"
                    );
                    kill_pid(pid);
                    let _ = child.kill();
                    break;
                }
                Ok(None) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        let _ = child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Sends SIGKILL to `pid` (0: none yet), ignoring the outcome.
fn kill_pid(pid: u32) {
    if pid == 0 {
        return;
    }
    let _ = Command::new("kill")
        .args(["-KILL", &pid.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// Waits until nothing accepts connections at `addr`, for at most `within`.
// the recorder talks to a real server in real time
#[allow(clippy::disallowed_methods)]
fn wait_closed(addr: SocketAddr, within: Duration) {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline
        && TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok()
    {
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Sends a four-letter word and returns the whole answer.
pub fn four_letter_word(addr: SocketAddr, word: &str) -> Result<String, String> {
    four_letter_word_within(addr, word, Duration::from_secs(5))
}

/// Sends a four-letter word and returns the whole answer, waiting at most `timeout` for it.
pub fn four_letter_word_within(
    addr: SocketAddr,
    word: &str,
    timeout: Duration,
) -> Result<String, String> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))
        .map_err(|e| format!("cannot connect to {addr}: {e}"))?;
    s.set_read_timeout(Some(timeout))
        .map_err(|e| e.to_string())?;
    s.write_all(word.as_bytes()).map_err(|e| e.to_string())?;
    let mut out = String::new();
    s.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// The `Zxid: 0x…` line of a `srvr` answer.
pub fn srvr_zxid(srvr: &str) -> Result<i64, String> {
    let line = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zxid:"))
        .ok_or_else(|| format!("no `Zxid:` line in the srvr answer:\n{srvr}"))?;
    let hex = line.trim().trim_start_matches("0x");
    i64::from_str_radix(hex, 16).map_err(|e| format!("bad zxid {line:?} in srvr: {e}"))
}

/// The `zk_uptime` line of a `mntr` answer: ms since the server object was made, which is
/// before it loads its data and builds its session tracker.
pub fn mntr_uptime_ms(mntr: &str) -> Result<u64, String> {
    let value = mntr
        .lines()
        .find_map(|l| l.strip_prefix("zk_uptime"))
        .ok_or_else(|| format!("no `zk_uptime` line in the mntr answer:\n{mntr}"))?;
    value
        .trim()
        .parse()
        .map_err(|e| format!("bad zk_uptime {value:?} in mntr: {e}"))
}

/// The version from the `Zookeeper version: 3.8.0-…, built on …` line of a `srvr` answer.
pub fn srvr_version(srvr: &str) -> Option<String> {
    let line = srvr
        .lines()
        .find_map(|l| l.strip_prefix("Zookeeper version:"))?;
    let v = line.trim().split([',', '-']).next()?.trim();
    (!v.is_empty()).then(|| v.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_srvr() {
        let s = "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-06-16 10:00 UTC\n\
                 Latency min/avg/max: 0/0.0/0\nReceived: 1\nSent: 0\nConnections: 1\n\
                 Outstanding: 0\nZxid: 0x1a\nMode: standalone\nNode count: 5\n";
        assert_eq!(srvr_zxid(s).unwrap(), 0x1a);
        assert_eq!(srvr_version(s).as_deref(), Some("3.8.0"));
        assert!(srvr_zxid("Mode: standalone").is_err());
        let m = "zk_version\t3.8.0\nzk_uptime\t15685\nzk_avg_latency\t0.0\n";
        assert_eq!(mntr_uptime_ms(m).unwrap(), 15685);
        assert!(mntr_uptime_ms("zk_version\t3.8.0").is_err());
    }
}
