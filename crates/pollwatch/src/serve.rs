//! `pollwatch serve`: the HTTP server on the chosen store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::Args;
use pollwatch_blobs::{BlobError, Blobs, S3Location};
use pollwatch_server::{AppState, ServerConfig};
use pollwatch_store::Store;

#[derive(Args, Clone)]
pub struct ServeArgs {
    /// Address to listen on. Port 0 picks a free port (printed at start).
    #[arg(long, env = "POLLWATCH_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// The election whose stations to serve (default: the latest).
    #[arg(long, env = "POLLWATCH_ELECTION")]
    pub election: Option<String>,
    /// A folder of the group's own forms (TOML): files named like the
    /// shipped ones replace them, others add checklists. Checked at start.
    #[arg(long, env = "POLLWATCH_FORMS")]
    pub forms: Option<std::path::PathBuf>,
    /// Mark cookies Secure; set this when the instance is behind HTTPS.
    #[arg(long, env = "POLLWATCH_SECURE_COOKIES")]
    pub secure_cookies: bool,
    /// Where evidence files (photos, scans; under `blobs/`, unless
    /// --blobs names a bucket) and exports' temporary files are kept.
    /// Default: `pollwatch-data` beside the SQLite file, or in the working
    /// directory for PostgreSQL.
    #[arg(long, env = "POLLWATCH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Keep evidence files in an S3-compatible bucket instead of the data
    /// directory: s3://BUCKET or s3://BUCKET/PREFIX. Servers sharing one
    /// PostgreSQL must share this too. Endpoint, region and keys come from
    /// AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY (plain http only to this machine, or with
    /// AWS_ALLOW_HTTP=true).
    #[arg(long, env = "POLLWATCH_BLOBS", value_parser = parse_blobs, value_name = "s3://BUCKET[/PREFIX]")]
    pub blobs: Option<S3Location>,
    /// Behind a reverse proxy: rate-limit logins by the client address the
    /// proxy appends to X-Forwarded-For. Leave off without a proxy, or
    /// anyone can claim any address.
    #[arg(long, env = "POLLWATCH_TRUST_FORWARDED_FOR")]
    pub trust_forwarded_for: bool,
    /// Where the groups' private keys are (`pollwatch key create`);
    /// default `keys/` in the data directory. A group whose key file is
    /// here gets a signed checkpoint every minute while its log grows.
    #[arg(long, env = "POLLWATCH_KEYS")]
    pub keys: Option<PathBuf>,
}

fn parse_blobs(s: &str) -> Result<S3Location, String> {
    S3Location::parse(s).map_err(|e| e.to_string())
}

/// The bucket of `--blobs`, checked once: a bucket that does not exist or
/// keys it refuses stop the start; an object store that is merely down
/// does not (uploads of files answer 503 until it is back, reports go on).
async fn open_bucket(location: &S3Location) -> anyhow::Result<Blobs> {
    let blobs = Blobs::s3_from_env(location.clone())?;
    match blobs.check().await {
        Ok(()) => {}
        Err(e @ BlobError::Refused { .. }) => {
            return Err(anyhow::Error::new(e).context(format!("--blobs {location}")));
        }
        Err(e) => tracing::warn!(
            error = %e,
            "the evidence file store does not answer yet: file uploads are refused (503) until it does"
        ),
    }
    Ok(blobs)
}

/// `pollwatch-data` beside a SQLite database file; in the working directory
/// for a PostgreSQL URL (or an in-memory SQLite).
pub fn default_data_dir(database: &str) -> PathBuf {
    const NAME: &str = "pollwatch-data";
    if database.starts_with("postgres://") || database.starts_with("postgresql://") {
        return PathBuf::from(NAME);
    }
    let file = database
        .strip_prefix("sqlite://")
        .or_else(|| database.strip_prefix("sqlite:"))
        .unwrap_or(database);
    let file = file.split('?').next().unwrap_or(file);
    if file.is_empty() || file.starts_with(':') {
        return PathBuf::from(NAME);
    }
    match Path::new(file).parent() {
        Some(dir) => dir.join(NAME),
        None => PathBuf::from(NAME),
    }
}

pub async fn run(database: &str, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    let args = ServeArgs {
        data_dir: Some(args.data_dir.unwrap_or_else(|| default_data_dir(database))),
        ..args
    };
    serve(store, args, |_| {}).await?;
    Ok(ExitCode::SUCCESS)
}

/// Serve until Ctrl-C or SIGTERM. `ready` is told the bound address once
/// the socket accepts connections.
pub async fn serve(
    store: Arc<dyn Store>,
    args: ServeArgs,
    ready: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let election = crate::pick_election(&*store, args.election.as_deref()).await?;
    let config = ServerConfig {
        secure_cookies: args.secure_cookies,
        data_dir: args
            .data_dir
            .clone()
            .unwrap_or_else(|| PathBuf::from("pollwatch-data")),
    };
    let forms = crate::forms::load(args.forms.as_deref())?;
    let mut state = AppState::new(store.clone(), config, election.as_ref().map(|e| e.id))
        .await?
        .with_forms(forms)
        .with_limits(pollwatch_server::limits::LimitConfig {
            trust_forwarded_for: args.trust_forwarded_for,
            ..Default::default()
        })?;
    if let Some(location) = &args.blobs {
        state = state.with_blobs(open_bucket(location).await?);
    }
    if let Some(dir) = &args.keys {
        state = state.with_keys(dir.clone());
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let addr = listener.local_addr()?;
    tracing::info!(
        %addr,
        backend = store.backend(),
        election = election.as_ref().map(|e| e.slug.as_str()).unwrap_or("(none)"),
        blobs = %state.blobs.describe(),
        "serving"
    );
    println!("pollwatch is serving on http://{addr}/");
    ready(addr);
    let purge = pollwatch_server::devices::spawn_purge(store.clone());
    state.rooms.spawn();
    let ledger = pollwatch_server::ledger::spawn(
        store.clone(),
        state.blobs.clone(),
        state.ledger_keys.clone(),
    );
    // The peer's address is what the login and enrolment limits count by.
    let app = pollwatch_server::router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await
        .context("server failed")?;
    purge.abort();
    ledger.abort();
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
