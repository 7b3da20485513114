//! The external load generator: Debian's `wrk`, one thread (`-t1`) like
//! the built-in client, with a Lua script that adds the `Authorization`
//! header and counts every answer that is not `200` with the expected body
//! (a `429` or a wrong body is not throughput).

use crate::load::{LoadResult, LoadSpec, Target};
use crate::stats::Percentiles;
use anyhow::{Context as _, bail};
use std::process::Command;
use std::time::Duration;

/// The script: the header and body come from the environment, the
/// per-thread tally of bad answers is summed in `done`.
const SCRIPT: &str = r#"
local auth = os.getenv("ISLET_BENCH_AUTHORIZATION") or ""
local expect = os.getenv("ISLET_BENCH_EXPECT") or ""
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end
local threads = {}
function setup(thread)
  table.insert(threads, thread)
end
function init(args)
  bad = 0
end
function response(status, headers, body)
  if status ~= 200 or (expect ~= "" and body ~= expect) then
    bad = bad + 1
  end
end
function done(summary, latency, requests)
  local b = 0
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
  end
  local e = summary.errors
  io.write(string.format(
    "ISLET_BENCH requests=%d bad=%d socket_errors=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, b, e.connect + e.read + e.write + e.timeout,
    summary.duration, latency:percentile(50), latency:percentile(99)))
end
"#;

/// The `wrk` command, or a clear error saying how to install it.
pub fn find() -> anyhow::Result<()> {
    match Command::new("wrk").arg("--version").output() {
        Ok(_) => Ok(()),
        Err(e) => bail!(
            "part 1 drives the servers with wrk as well, which cannot be run ({e}): \
             install Debian's package (apt-get install wrk)"
        ),
    }
}

/// Run `wrk -t1 -c{concurrency}` against `target` for the spec's warm-up
/// (a run of its own, discarded), then for its duration.
pub fn run(target: &Target, spec: LoadSpec) -> anyhow::Result<LoadResult> {
    let script = std::env::temp_dir().join(format!("islet-bench-{}.lua", std::process::id()));
    std::fs::write(&script, SCRIPT).context("cannot write the wrk script")?;
    if !spec.warmup.is_zero() {
        invoke(target, spec.concurrency, spec.warmup, &script)?;
    }
    let result = invoke(target, spec.concurrency, spec.duration, &script);
    let _ = std::fs::remove_file(&script);
    result
}

fn invoke(
    target: &Target,
    concurrency: usize,
    duration: Duration,
    script: &std::path::Path,
) -> anyhow::Result<LoadResult> {
    let url = format!("http://{}{}", target.addr, target.path);
    // wrk takes whole seconds or milliseconds ("500ms" is not accepted by
    // every version; seconds with a decimal point are).
    let secs = format!("{:.0}s", duration.as_secs_f64().ceil().max(1.0));
    let expect = target
        .expect
        .as_ref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default();
    let output = Command::new("wrk")
        .args([
            "-t1",
            &format!("-c{}", concurrency.max(1)),
            "-d",
            &secs,
            "--latency",
            "-s",
        ])
        .arg(script)
        .arg(&url)
        .env(
            "ISLET_BENCH_AUTHORIZATION",
            target.authorization.as_deref().unwrap_or(""),
        )
        .env("ISLET_BENCH_EXPECT", expect)
        .output()
        .context("cannot run wrk (apt-get install wrk)")?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        bail!(
            "wrk failed on {url}: {}{}",
            stdout,
            String::from_utf8_lossy(&output.stderr)
        );
    }
    parse(&stdout, concurrency).with_context(|| format!("wrk's output on {url}:\n{stdout}"))
}

/// The figures of the script's `ISLET_BENCH` line.
fn parse(stdout: &str, concurrency: usize) -> anyhow::Result<LoadResult> {
    let line = stdout
        .lines()
        .find(|l| l.starts_with("ISLET_BENCH "))
        .context("no ISLET_BENCH line")?;
    let field = |name: &str| -> anyhow::Result<u64> {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(name)?.strip_prefix('='))
            .context(format!("no {name}"))?
            .parse::<u64>()
            .with_context(|| format!("{name} is not a number"))
    };
    let (requests, bad, socket) = (field("requests")?, field("bad")?, field("socket_errors")?);
    let micros = |n: u64| Duration::from_micros(n);
    let error_kinds = [("wrong answer", bad), ("socket error", socket)]
        .into_iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| (kind.to_string(), n))
        .collect();
    Ok(LoadResult {
        concurrency,
        completed: requests.saturating_sub(bad),
        errors: bad + socket,
        error_kinds,
        window: micros(field("duration_us")?),
        // wrk's percentiles cover every answer, good or not; a run with
        // errors shows them in its errors column.
        latency: Percentiles::from_p50_p99(micros(field("p50_us")?), micros(field("p99_us")?)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_line_is_read_and_bad_answers_are_not_throughput() {
        let out = "Running 3s test\nISLET_BENCH requests=3000 bad=1000 socket_errors=2 \
                   duration_us=2000000 p50_us=300 p99_us=900\n";
        let r = parse(out, 32).unwrap();
        assert_eq!((r.completed, r.errors), (2000, 1002));
        assert_eq!(r.throughput(), 1000.0);
        assert!(parse("no line", 1).is_err());
    }
}
