//! The `islet` binary.

use clap::Parser as _;

// The allocator trial (BENCHMARKS.md part 1): glibc's malloc unless built
// with `--features jemalloc` or `--features mimalloc`.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;
#[cfg(all(feature = "mimalloc", not(feature = "jemalloc")))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let cli = islet_host::cli::Cli::parse();
    let default_filter = match cli.command {
        islet_host::cli::Command::Dev(_) => islet_host::cli::DEV_LOG_FILTER,
        _ => "info",
    };
    islet_host::logging::init_with(cli.log_json, default_filter, cli.log_file().as_ref());
    match islet_host::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
