//! nginx (Debian's package) in front of several test hosts, on a port of
//! its own, the way `deploy/nginx.conf` puts it in front of Islet.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// A running nginx.
pub struct Nginx {
    child: Child,
    binary: &'static str,
    dir: tempfile::TempDir,
    upstreams: Vec<String>,
    port: u16,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

/// nginx.conf proxying `port` to `upstreams`, the one at `down` (if any)
/// marked down (drained: no new requests).
fn config(dir: &std::path::Path, port: u16, upstreams: &[String], down: Option<usize>) -> String {
    let servers: String = upstreams
        .iter()
        .enumerate()
        .map(|(i, u)| {
            let mark = if Some(i) == down { " down" } else { "" };
            format!("        server {u} max_fails=1 fail_timeout=1s{mark};\n")
        })
        .collect();
    let prefix = dir.display();
    format!(
        "worker_processes 1;\n\
         error_log {prefix}/error.log warn;\n\
         pid {prefix}/nginx.pid;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n\
             access_log off;\n\
             client_body_temp_path {prefix}/body;\n\
             proxy_temp_path {prefix}/proxy;\n\
             fastcgi_temp_path {prefix}/fastcgi;\n\
             uwsgi_temp_path {prefix}/uwsgi;\n\
             scgi_temp_path {prefix}/scgi;\n\
             upstream islet {{\n{servers}    }}\n\
             server {{\n\
                 listen 127.0.0.1:{port};\n\
                 client_max_body_size 16m;\n\
                 location / {{\n\
                     proxy_pass http://islet;\n\
                     proxy_set_header Host $http_host;\n\
                     proxy_next_upstream error timeout http_502 http_503 http_504;\n\
                     proxy_next_upstream_tries 3;\n\
                     proxy_connect_timeout 1s;\n\
                 }}\n\
             }}\n\
         }}\n"
    )
}

impl Nginx {
    /// Proxy a new port to `upstreams` (`127.0.0.1:PORT` each), retrying a
    /// request on the next host when one refuses the connection.
    pub fn start(upstreams: &[String]) -> Nginx {
        let binary = ["/usr/sbin/nginx", "/usr/bin/nginx"]
            .into_iter()
            .find(|p| std::path::Path::new(p).exists())
            .unwrap_or_else(|| {
                panic!("nginx is needed: apt-get install nginx (./scripts/test does)")
            });
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let conf = config(dir.path(), port, upstreams, None);
        let path = dir.path().join("nginx.conf");
        std::fs::write(&path, conf).expect("nginx.conf");
        let child = Command::new(binary)
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&path)
            .args(["-g", "daemon off;"])
            // Its workers must not hold the test's output pipes open.
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("nginx starts");
        let base = format!("http://127.0.0.1:{port}");
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen: {}",
                std::fs::read_to_string(dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Nginx {
            child,
            binary,
            dir,
            upstreams: upstreams.to_vec(),
            port,
            base,
        }
    }

    /// Drain upstream `index` (mark it down: requests in flight finish, no
    /// new ones go there), or bring every upstream back (`None`), as an
    /// operator does around a host's restart; waits for the reload.
    pub fn drain(&self, index: Option<usize>) {
        let path = self.dir.path().join("nginx.conf");
        std::fs::write(
            &path,
            config(self.dir.path(), self.port, &self.upstreams, index),
        )
        .expect("nginx.conf");
        let status = Command::new(self.binary)
            .arg("-p")
            .arg(self.dir.path())
            .arg("-c")
            .arg(&path)
            .args(["-s", "reload"])
            .status()
            .expect("nginx -s reload");
        assert!(status.success(), "nginx reload failed");
        // The new workers take over within a moment.
        std::thread::sleep(Duration::from_millis(300));
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        // SIGTERM: the master stops its workers, then exits (SIGKILL would
        // leave the workers running, orphaned).
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
