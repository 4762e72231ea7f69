//! What the command-line tests share: running the built `zksim`, reading its output, a
//! scratch directory per test.

// Each test binary uses some of these.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Runs the `zksim` this build made with `args`.
pub fn zksim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_zksim"))
        .args(args)
        .output()
        .expect("zksim runs")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// An empty directory of this test process's own, named after `name`.
pub fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("zksim-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A path as the `&str` an argument list takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Debian's ZooKeeper server jar, which a live test needs.
const JAR: &str = "/usr/share/java/zookeeper.jar";

/// Whether a real server can be started here; panics if it cannot but must.
pub fn zookeeper_available(test: &str) -> bool {
    let java_ok = Command::new("java")
        .arg("-version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let jar_ok = Path::new(JAR).exists() || install_zookeeper(test);
    if java_ok && jar_ok {
        return true;
    }
    let why = format!(
        "{test}: ZooKeeper is not available (java on PATH: {java_ok}, {JAR}: {jar_ok}); \
         install it with `apt-get install -y zookeeper`"
    );
    if std::env::var("ZKSIM_REQUIRE_ZOOKEEPER").as_deref() == Ok("1") {
        panic!("{why} (ZKSIM_REQUIRE_ZOOKEEPER=1)");
    }
    eprintln!("SKIPPED {why}");
    false
}

/// Runs the project's installer for Debian's `zookeeper` package; whether the jar is there
/// afterwards. (It needs root or passwordless sudo and the package registry.)
/// Runs once per test binary, as the tests run in parallel.
fn install_zookeeper(test: &str) -> bool {
    static INSTALLED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *INSTALLED.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/install-zookeeper");
        eprintln!("{test}: {JAR} is missing; running {}", script.display());
        let ran = Command::new(&script).stdout(Stdio::null()).status();
        ran.is_ok_and(|s| s.success()) && Path::new(JAR).exists()
    })
}
