//! The `islet` command line: serve, demo, development tokens, and the admin
//! client for plugins.

mod build;
mod client;
mod demo;
mod dev;
mod dev_remote;
mod money;
mod scaffold;
mod store;
mod token;

use crate::config::{ConfigFile, ServerConfig};
use anyhow::Context as _;
use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

pub use build::{build_plugin, ensure_wasm_target};
pub use dev::DEV_LOG_FILTER;

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
    /// Write the log to this file instead of stderr, rotated by size so it
    /// never fills the disk (see --log-file-mib and --log-files).
    #[arg(long, env = "ISLET_LOG_FILE", global = true, value_name = "PATH")]
    pub log_file: Option<PathBuf>,
    /// Size in MiB at which the log file is rotated.
    #[arg(long, env = "ISLET_LOG_FILE_MIB", global = true, default_value_t = 100,
          value_parser = clap::value_parser!(u64).range(1..=102_400))]
    pub log_file_mib: u64,
    /// Rotated log files kept besides the current one (older ones are deleted).
    #[arg(long, env = "ISLET_LOG_FILES", global = true, default_value_t = 5,
          value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub log_files: u64,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

impl Cli {
    /// The rotated log file asked for, if any.
    pub fn log_file(&self) -> Option<crate::logging::LogFile> {
        self.log_file.as_ref().map(|path| crate::logging::LogFile {
            path: path.clone(),
            max_bytes: usize::try_from(self.log_file_mib << 20).unwrap_or(usize::MAX),
            keep: usize::try_from(self.log_files).unwrap_or(usize::MAX),
        })
    }
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the host.
    Serve(ServeArgs),
    /// Print a shell completion script: `islet completions bash >
    /// /etc/bash_completion.d/islet` (or zsh, fish, elvish, powershell).
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Build the sample mini-services and serve them in development mode.
    Demo(ServeArgs),
    /// The inner loop for one plugin: a development host with the plugin in
    /// DIR built, installed and released, tokens and URLs printed; every save
    /// rebuilds and swaps it in, keeping its data.
    Dev(DevArgs),
    /// Print a development token signed with the data folder's dev key.
    Token(token::TokenArgs),
    /// Build, install and manage plugins.
    #[command(subcommand)]
    Plugin(PluginCommand),
    /// Move data between stores.
    #[command(subcommand)]
    Store(store::StoreCommand),
    /// Merchant accounts and which plugins may charge to them.
    #[command(subcommand)]
    Merchant(money::MerchantCommand),
    /// The daily reconciliation statement.
    Reconcile {
        /// The day, `YYYY-MM-DD` in the business time zone [default: today].
        #[arg(long)]
        date: Option<String>,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// The host's settings.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// An order with its journal and event deliveries.
    Order {
        /// The order id.
        id: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
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
    /// The store several hosts share, `postgres://user:password@host/db`
    /// [default: the embedded sled store in the data folder].
    #[arg(long, env = "ISLET_STORE_URL")]
    pub store: Option<String>,
    /// Folder of the secret files all hosts of a deployment share
    /// [default: the data folder].
    #[arg(long, env = "ISLET_SECRETS_DIR")]
    pub secrets_dir: Option<PathBuf>,
}

/// `islet dev` flags.
#[derive(Debug, Clone, Args)]
pub struct DevArgs {
    /// The plugin's folder [default: the current folder].
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Build, install and serve, but do not watch for changes.
    #[arg(long)]
    pub no_watch: bool,
    /// Use this development host (`islet serve --dev`, another `islet
    /// dev`) instead of starting one; a production host refuses.
    #[arg(long, value_name = "URL", conflicts_with_all = ["listen", "data_dir", "store", "secrets_dir"])]
    pub server: Option<String>,
    /// With --server: a token of a developer of the plugin's department
    /// (`developer:<department>`) or an admin.
    #[arg(long, env = "ISLET_TOKEN", requires = "server")]
    pub token: Option<String>,
    /// Host flags; the data folder defaults to `.islet-dev` in the plugin's folder.
    #[command(flatten)]
    pub serve: ServeArgs,
}

/// `islet config ...`.
#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Print the effective config (defaults, file, `ISLET_*` environment
    /// and these flags applied) as TOML, secret values redacted.
    Show(ServeArgs),
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
    /// `table` for people, `json` for scripts (the host's answer as is).
    #[arg(long, value_enum, default_value = "table")]
    pub output: Output,
}

/// How client commands print what the host answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Lines and tables for people.
    Table,
    /// The host's JSON answer, pretty-printed.
    Json,
}

/// `islet plugin ...`.
#[derive(Debug, Subcommand)]
pub enum PluginCommand {
    /// Create a plugin project in a new folder NAME: manifest, code, native
    /// tests and a README, ready for `cargo test` (or `npm install && npm
    /// test` with `--lang js`) and `islet dev`.
    New {
        /// The plugin id and folder name, e.g. `parking-permit`.
        name: String,
        /// The language.
        #[arg(long, value_enum, default_value = "rust")]
        lang: scaffold::Lang,
        /// What the project shows: basic (identity, storage, log), paying
        /// (an order paid in the cashier), notifying (consent, Inbox messages).
        #[arg(long, value_enum, default_value = "basic")]
        template: scaffold::Template,
        /// The department that owns the service.
        #[arg(long, default_value = "demo")]
        department: String,
        /// Where to create the folder [default: the current folder].
        #[arg(long)]
        dir: Option<PathBuf>,
    },
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
    /// Upload a new version for review (a plugin folder is built first).
    Publish {
        /// A plugin folder, or a .wasm component.
        path: PathBuf,
        /// The manifest, when publishing a .wasm file [default: islet.toml beside it].
        #[arg(long)]
        manifest: Option<PathBuf>,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Send an uploaded version to review.
    Submit {
        /// Plugin id.
        id: String,
        /// Version.
        version: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Approve a version in review, granting capabilities.
    Approve {
        /// Plugin id.
        id: String,
        /// Version.
        version: String,
        /// What to grant, repeatable: a capability (identity, storage, log,
        /// payment, notification), `data:<item>` (e.g. `data:real-name`),
        /// `template:<id>`, or `long-term-messages`.
        #[arg(long = "grant")]
        grants: Vec<String>,
        /// Grant every capability the version requested.
        #[arg(long, conflicts_with = "grants")]
        grant_requested: bool,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Reject a version in review.
    Reject {
        /// Plugin id.
        id: String,
        /// Version.
        version: String,
        /// Why (shown to the developer).
        #[arg(long)]
        reason: String,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Release an approved version to everyone, or gray with --percent/--tester.
    Release {
        /// Plugin id.
        id: String,
        /// Version.
        version: String,
        /// Share of signed-in citizens, percent.
        #[arg(long, default_value_t = 100)]
        percent: u8,
        /// A citizen (token subject) who always gets it; repeatable.
        #[arg(long = "tester")]
        testers: Vec<String>,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Change the gray release's share and testers.
    Gray {
        /// Plugin id.
        id: String,
        /// Share of signed-in citizens, percent.
        #[arg(long)]
        percent: u8,
        /// A citizen (token subject) who always gets it; repeatable.
        #[arg(long = "tester")]
        testers: Vec<String>,
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// Make the gray version the full release.
    Promote(PluginIdArgs),
    /// End the gray release.
    Revert(PluginIdArgs),
    /// Go back to the previous full release.
    Rollback(PluginIdArgs),
    /// Take a plugin down: hidden and unreachable at once.
    #[command(alias = "disable")]
    TakeDown(PluginIdArgs),
    /// Put a taken-down plugin back.
    #[command(alias = "enable")]
    PutBack(PluginIdArgs),
    /// List installed plugins.
    List {
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
    /// List a plugin's versions and their states.
    Versions(PluginIdArgs),
    /// List the versions waiting for review.
    Queue {
        /// The host to talk to.
        #[command(flatten)]
        server: ServerArgs,
    },
}

/// A plugin id and the host.
#[derive(Debug, Clone, Args)]
pub struct PluginIdArgs {
    /// Plugin id.
    pub id: String,
    /// The host to talk to.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// Resolve `serve`/`demo` flags over the environment and the config file.
pub fn server_config(config: Option<&PathBuf>, args: &ServeArgs) -> anyhow::Result<ServerConfig> {
    let file = ConfigFile::layered(config.map(PathBuf::as_path))?;
    let mut c = ServerConfig::from_file(&file, args.data_dir.clone())?;
    if file.cache_dir.is_none() {
        c.cache_dir = c.data_dir.join("cache");
    }
    if let Some(dir) = &args.secrets_dir {
        c.secrets_dir = dir.clone();
    } else if file.secrets_dir.is_none() {
        c.secrets_dir = c.data_dir.clone();
    }
    if let Some(listen) = args.listen {
        c.listen = listen;
    }
    c.dev |= args.dev;
    if let Some(url) = &args.store {
        c.store_url = Some(url.clone());
    }
    c.store_location()?;
    Ok(c)
}

/// Run the command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => {
            let config = server_config(cli.config.as_ref(), &args)?;
            tokio_runtime()?.block_on(async {
                let grace = config.shutdown_grace;
                let server = crate::server::start(config).await?;
                println!("islet listening on http://{}", server.addr());
                server.run_until_signal(grace).await
            })
        }
        Command::Demo(args) => {
            let mut config = server_config(cli.config.as_ref(), &args)?;
            config.dev = true;
            demo::run(config)
        }
        Command::Dev(args) if args.server.is_some() => {
            let server = ServerArgs {
                server: args.server.clone().unwrap_or_default(),
                token: args.token.clone().context(
                    "islet dev --server needs --token: a developer token of the plugin's \
                     department (developer:<department>) or an admin token",
                )?,
                output: Output::Table,
            };
            dev_remote::run(&server, &args.dir, !args.no_watch)
        }
        Command::Dev(mut args) => {
            if args.serve.data_dir.is_none() {
                args.serve.data_dir = Some(args.dir.join(".islet-dev"));
            }
            let mut config = server_config(cli.config.as_ref(), &args.serve)?;
            config.dev = true;
            dev::run(config, &args.dir, !args.no_watch)
        }
        Command::Token(args) => token::run(cli.config.as_ref(), &args),
        Command::Plugin(cmd) => match cmd {
            PluginCommand::New {
                name,
                lang,
                template,
                department,
                dir,
            } => {
                let made = scaffold::create(&scaffold::NewPlugin {
                    id: name,
                    parent: dir.unwrap_or_else(|| PathBuf::from(".")),
                    lang,
                    template,
                    department,
                })?;
                println!("created {}", made.display());
                let test = match lang {
                    scaffold::Lang::Rust => "cargo test",
                    scaffold::Lang::Js => "npm install\n  npm test",
                };
                println!("next:\n  cd {}\n  {test}\n  islet dev", made.display());
                Ok(())
            }
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
            PluginCommand::Publish {
                path,
                manifest,
                server,
            } => client::publish(&server, &path, manifest.as_deref()),
            PluginCommand::Submit {
                id,
                version,
                server,
            } => client::version_action(&server, &id, &version, "submit", serde_json::json!({})),
            PluginCommand::Approve {
                id,
                version,
                grants,
                grant_requested,
                server,
            } => client::approve(&server, &id, &version, &grants, grant_requested),
            PluginCommand::Reject {
                id,
                version,
                reason,
                server,
            } => client::version_action(
                &server,
                &id,
                &version,
                "reject",
                serde_json::json!({ "reason": reason }),
            ),
            PluginCommand::Release {
                id,
                version,
                percent,
                testers,
                server,
            } => client::version_action(
                &server,
                &id,
                &version,
                "release",
                serde_json::json!({ "percent": percent, "testers": testers }),
            ),
            PluginCommand::Gray {
                id,
                percent,
                testers,
                server,
            } => client::plugin_action(
                &server,
                &id,
                "gray",
                serde_json::json!({ "percent": percent, "testers": testers }),
            ),
            PluginCommand::Promote(a) => {
                client::plugin_action(&a.server, &a.id, "promote", serde_json::json!({}))
            }
            PluginCommand::Revert(a) => {
                client::plugin_action(&a.server, &a.id, "revert", serde_json::json!({}))
            }
            PluginCommand::Rollback(a) => {
                client::plugin_action(&a.server, &a.id, "rollback", serde_json::json!({}))
            }
            PluginCommand::TakeDown(a) => {
                client::plugin_action(&a.server, &a.id, "take-down", serde_json::json!({}))
            }
            PluginCommand::PutBack(a) => {
                client::plugin_action(&a.server, &a.id, "put-back", serde_json::json!({}))
            }
            PluginCommand::List { server } => client::list(&server),
            PluginCommand::Versions(a) => client::versions(&a.server, &a.id),
            PluginCommand::Queue { server } => client::queue(&server),
        },
        Command::Merchant(cmd) => money::merchant(cmd),
        Command::Store(cmd) => store::run(cmd),
        Command::Reconcile { date, server } => money::reconcile(&server, date.as_deref()),
        Command::Order { id, server } => money::order(&server, &id),
        Command::Completions { shell } => {
            use clap::CommandFactory as _;
            use std::io::Write as _;
            let mut script = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "islet", &mut script);
            match std::io::stdout().write_all(&script) {
                // `islet completions bash | head`: the reader left early.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                other => Ok(other?),
            }
        }
        Command::Config(ConfigCommand::Show(args)) => {
            let config = server_config(cli.config.as_ref(), &args)?;
            print!("{}", crate::config::show::effective_toml(&config)?);
            Ok(())
        }
    }
}

fn tokio_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
