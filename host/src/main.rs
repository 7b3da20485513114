//! The `islet` binary.

use clap::Parser as _;

fn main() -> std::process::ExitCode {
    let cli = islet_host::cli::Cli::parse();
    islet_host::logging::init(cli.log_json);
    match islet_host::cli::run(cli) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
