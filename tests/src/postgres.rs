//! A private PostgreSQL server for tests that stop and start it (the
//! shared test database must stay up for the tests running beside them):
//! `initdb` into a temporary folder, its own port, started and stopped
//! with `pg_ctl`. Needs Debian's `postgresql` package (`scripts/test`
//! installs it); run as root, the server runs as the `postgres` user.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A PostgreSQL server of this test's own.
pub struct PrivatePostgres {
    bin: PathBuf,
    dir: tempfile::TempDir,
    /// Its port on 127.0.0.1.
    pub port: u16,
}

fn postgres_bin() -> PathBuf {
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| d.flatten().map(|e| e.path().join("bin")).collect())
        .unwrap_or_default();
    versions.retain(|p| p.join("initdb").exists());
    versions.sort();
    versions.pop().unwrap_or_else(|| {
        panic!(
            "no PostgreSQL server binaries under /usr/lib/postgresql: \
             apt-get install postgresql (./scripts/test does)"
        )
    })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// `program args` as the `postgres` user when running as root.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(program);
        c
    } else {
        Command::new(program)
    }
}

fn run(mut command: Command, what: &str) {
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

impl PrivatePostgres {
    /// Create and start a server.
    pub fn start() -> PrivatePostgres {
        let bin = postgres_bin();
        let dir = tempfile::tempdir().expect("temp dir");
        if is_root() {
            run(
                {
                    let mut c = Command::new("chown");
                    c.arg("postgres:postgres").arg(dir.path());
                    c
                },
                "chown",
            );
        }
        let mut initdb = as_server_user(&bin.join("initdb"));
        initdb
            .args(["-A", "trust", "-U", "islet", "--no-sync", "-D"])
            .arg(dir.path().join("data"));
        run(initdb, "initdb");
        let pg = PrivatePostgres {
            bin,
            dir,
            port: free_port(),
        };
        pg.up();
        pg
    }

    /// `postgres://islet@127.0.0.1:PORT/postgres`.
    pub fn url(&self) -> String {
        format!("postgres://islet@127.0.0.1:{}/postgres", self.port)
    }

    /// Start the (stopped) server and wait until it accepts connections.
    pub fn up(&self) {
        let mut start = as_server_user(&self.bin.join("pg_ctl"));
        start
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .arg("-l")
            .arg(self.dir.path().join("log"))
            .arg("-o")
            .arg(format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1",
                self.port,
                self.dir.path().display()
            ))
            .args(["-w", "start"]);
        run(start, "pg_ctl start");
    }

    /// Stop the server at once (`immediate`: like a crash of the database
    /// machine; committed transactions survive).
    pub fn down(&self) {
        let mut stop = as_server_user(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"]);
        run(stop, "pg_ctl stop");
    }
}

impl Drop for PrivatePostgres {
    fn drop(&mut self) {
        let mut stop = as_server_user(&self.bin.join("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "stop"]);
        let _ = stop.output();
    }
}
