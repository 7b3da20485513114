//! How big a run is: the full benchmark or the quick one the test runs.

use std::time::Duration;

/// Sizes and durations of every part.
#[derive(Debug, Clone)]
pub struct Profile {
    /// `full` or `quick`.
    pub name: &'static str,
    /// Part 1: concurrency of each load point.
    pub concurrencies: Vec<usize>,
    /// Parts 1 and 6: the concurrency the targets are checked at.
    pub target_concurrency: usize,
    /// Warm-up before each load point.
    pub warmup: Duration,
    /// Measurement window of each load point.
    pub duration: Duration,
    /// Parts 1 and 6: runs of each load point, interleaved across servers
    /// (or phases); the run with the median throughput is reported.
    pub repeats: usize,
    /// Part 2: calls before timing.
    pub instantiate_warmup: usize,
    /// Part 2: timed calls per configuration.
    pub instantiate_calls: usize,
    /// Part 3: untimed rounds, then timed rounds (one call per mode each).
    pub cpu_warmup: usize,
    /// Part 3: timed samples per mode.
    pub cpu_samples: usize,
    /// Part 3: size of the body hashed.
    pub hash_bytes: usize,
    /// Part 3: hash rounds per call.
    pub hash_rounds: u32,
    /// Part 3: records in the JSON body.
    pub json_records: usize,
    /// Part 3: JSON rounds per call.
    pub json_rounds: u32,
    /// Part 4: components activated.
    pub activation_components: Vec<&'static str>,
    /// Part 4: activations with an empty cache, per component.
    pub activation_compiles: usize,
    /// Part 4: activations from a warm cache, per component.
    pub activation_cached: usize,
    /// Part 5: numbers of installed plugins measured.
    pub memory_sizes: Vec<usize>,
    /// Part 5: the number of plugins the target is stated for.
    pub memory_target_plugins: usize,
    /// Part 6: callers looping on `hostile`'s `/spin`.
    pub spinners: usize,
    /// Part 6: callers looping on `hostile`'s `/hog`.
    pub hoggers: usize,
    /// Part 10: how long every hostile kind loops next to `hello`.
    pub isolation: Duration,
    /// Part 10: callers looping on each hostile kind.
    pub isolation_callers: usize,
    /// Part 7: orders created, paid and delivered.
    pub payment_orders: usize,
    /// Part 9: storage and order requests per backend.
    pub store_requests: usize,
    /// Part 9: installs and messages timed from one host to another.
    pub propagations: usize,
    /// Part 11: JS compiles with an empty cache.
    pub js_compiles: usize,
    /// Part 11: JS activations from a warm cache.
    pub js_activations: usize,
    /// Part 11: JS plugins installed for the memory figure.
    pub js_memory_plugins: usize,
    /// Part 11: saved edits timed through `islet dev` per sample (0: none).
    pub devloop_edits: usize,
}

impl Profile {
    /// The full benchmark: a few minutes.
    pub fn full() -> Profile {
        Profile {
            name: "full",
            concurrencies: vec![1, 32, 256],
            target_concurrency: 32,
            warmup: Duration::from_millis(500),
            duration: Duration::from_secs(3),
            repeats: 3,
            instantiate_warmup: 2_000,
            instantiate_calls: 20_000,
            cpu_warmup: 2,
            cpu_samples: 15,
            hash_bytes: 64 << 10,
            hash_rounds: 300,
            json_records: 500,
            json_rounds: 20,
            activation_components: vec!["hello", "community-report"],
            activation_compiles: 5,
            activation_cached: 20,
            memory_sizes: vec![1, 100, 1_000],
            memory_target_plugins: 1_000,
            spinners: 2,
            hoggers: 2,
            isolation: Duration::from_secs(60),
            isolation_callers: 2,
            payment_orders: 500,
            store_requests: 300,
            propagations: 20,
            js_compiles: 2,
            js_activations: 20,
            js_memory_plugins: 5,
            devloop_edits: 5,
        }
    }

    /// A tiny run that exercises every part in seconds, even in a debug build.
    pub fn quick() -> Profile {
        Profile {
            name: "quick",
            concurrencies: vec![1, 8],
            target_concurrency: 8,
            warmup: Duration::from_millis(100),
            duration: Duration::from_millis(300),
            repeats: 1,
            instantiate_warmup: 20,
            instantiate_calls: 200,
            cpu_warmup: 1,
            cpu_samples: 3,
            hash_bytes: 16 << 10,
            hash_rounds: 20,
            json_records: 50,
            json_rounds: 2,
            activation_components: vec!["hello"],
            activation_compiles: 1,
            activation_cached: 3,
            memory_sizes: vec![10, 20],
            memory_target_plugins: 1_000,
            spinners: 1,
            hoggers: 1,
            isolation: Duration::from_secs(2),
            isolation_callers: 1,
            payment_orders: 20,
            store_requests: 20,
            propagations: 3,
            js_compiles: 1,
            js_activations: 3,
            js_memory_plugins: 2,
            devloop_edits: 0,
        }
    }
}
