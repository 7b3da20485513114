//! The eleven parts of the benchmark, one module each. Each takes the shared
//! [`Bench`] and returns its report [`Section`](crate::report::Section).

pub mod activation;
pub mod hello;
pub mod instantiate;
pub mod isolation;
pub mod js;
pub mod memory;
pub mod metering;
pub mod noisy;
pub mod notification;
pub mod payment;
pub mod shared_store;

use crate::load::{Client, LoadResult, LoadSpec};
use crate::profile::Profile;
use anyhow::Context as _;

/// What every part shares: sizes, the servers' runtime, the load generator.
pub struct Bench {
    /// Sizes and durations.
    pub profile: Profile,
    /// The runtime servers under test run on (all cores).
    pub server_runtime: tokio::runtime::Runtime,
    /// The load generator (its own runtime).
    pub client: Client,
}

impl Bench {
    /// Set up for `profile`.
    pub fn new(profile: Profile) -> anyhow::Result<Bench> {
        let server_runtime = tokio::runtime::Builder::new_multi_thread()
            .thread_name("bench-server")
            .enable_all()
            .build()
            .context("cannot start the server runtime")?;
        Ok(Bench {
            profile,
            server_runtime,
            client: Client::new()?,
        })
    }

    /// A load point at `concurrency` with the profile's durations.
    pub fn load_spec(&self, concurrency: usize) -> LoadSpec {
        LoadSpec {
            concurrency,
            warmup: self.profile.warmup,
            duration: self.profile.duration,
        }
    }
}

/// Of several runs of one load point, the run with the median `key`,
/// whole (so all its figures come from the same run).
pub fn median_run(
    mut runs: Vec<LoadResult>,
    key: impl Fn(&LoadResult) -> f64,
) -> Option<LoadResult> {
    runs.sort_by(|a, b| key(a).total_cmp(&key(b)));
    let middle = runs.len() / 2;
    runs.into_iter().nth(middle)
}

/// `x` with `digits` decimals.
pub fn fixed(x: f64, digits: usize) -> String {
    format!("{x:.digits$}")
}
