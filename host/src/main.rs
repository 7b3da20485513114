//! The `islet` binary.

use clap::Parser as _;

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
