//! The `islet` command line: serve, demo, development tokens, and the admin
//! client for plugins.

mod build;
mod client;
mod demo;
mod token;

use crate::config::{ConfigFile, ServerConfig};
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use build::{build_plugin, ensure_wasm_target};

/// Islet: run a city app's mini-services as sandboxed Wasm components.
#[derive(Debug, Parser)]
#[command(name = "islet", version, about, long_about = None)]
pub struct Cli {
    /// Config file (TOML); flags and environment variables override it.
    #[arg(long, env = "ISLET_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Log as JSON lines instead of text.
    #[arg(long, env = "ISLET_LOG_JSON", global = true)]
    pub log_json: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host.
    Serve(ServeArgs),
    /// Build the sample mini-services and serve them in development mode.
    Demo(ServeArgs),
    /// Print a development token signed with the data folder's dev key.
    Token(token::TokenArgs),
    /// Build, install and manage plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
}

/// Flags of `serve` and `demo`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on [default: 127.0.0.1:8080].
    #[arg(long, env = "ISLET_LISTEN")]
    pub listen: Option<SocketAddr>,
    /// Data folder: store, components, secrets [default: ./islet-data].
    #[arg(long, env = "ISLET_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Development mode: create and trust a signing key in the data folder.
    #[arg(long, env = "ISLET_DEV")]
    pub dev: bool,
}

/// Where the admin client talks to.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    /// Base URL of the host.
    #[arg(long, env = "ISLET_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,
    /// An admin token (`islet token --role admin ...` in development).
    #[arg(long, env = "ISLET_TOKEN")]
    pub token: String,
}

/// `islet plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Build a plugin crate into a component (wasm32-wasip2, release).
    Build {
        /// The plugin's folder (with Cargo.toml and islet.toml).
        dir: PathBuf,
    },
    /// Install a plugin folder (built first) or a built .wasm file.
    Install {
        /// A plugin folder, or a .wasm component.
        path: PathBuf,
        /// The manifest, when installing a .wasm file [default: islet.toml beside it].
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List installed plugins.
    List {
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Enable a plugin: its routes and catalog entry come back.
    Enable {
        /// Plugin id.
        id: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Disable a plugin: its routes answer 404 at once.
    Disable {
        /// Plugin id.
        id: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// Resolve `serve`/`demo` flags against the config file.
pub fn server_config(config: Option<&PathBuf>, args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let file = match config {
        Some(path) => ConfigFile::load(path)?,
        None => ConfigFile::default(),
    };
    let mut c = ServerConfig::from_file(&file, args.data_dir.clone())?;
    if file.cache_dir.is_none() {
        c.cache_dir = c.data_dir.join("cache");
    }
    if let Some(listen) = args.listen {
        c.listen = listen;
    }
    c.dev |= args.dev;
    Ok(c)
}

/// Run the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = server_config(cli.config.as_ref(), &args)?;
            tokio_runtime()?.block_on(async {
                let server = crate::server::start(config).await?;
                println!("islet listening on http://{}", server.addr());
                server.run_until_signal().await
            })
        }
        Command::Demo(args) => {
            let mut config = server_config(cli.config.as_ref(), &args)?;
            config.dev = true;
            demo::run(config)
        }
        Command::Token(args) => token::run(cli.config.as_ref(), &args),
        Command::Plugin(cmd) => match cmd {
            PluginCommand::Build { dir } => {
                let built = build_plugin(&dir)?;
                println!("{}", built.display());
                Ok(())
            }
            PluginCommand::Install {
                path,
                manifest,
                server,
            } => client::install(&server, &path, manifest.as_deref()),
            PluginCommand::List { server } => client::list(&server),
            PluginCommand::Enable { id, server } => client::set_enabled(&server, &id, true),
            PluginCommand::Disable { id, server } => client::set_enabled(&server, &id, false),
        },
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
