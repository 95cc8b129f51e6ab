//! `pollwatch key`, `pollwatch checkpoint` and `pollwatch witness`: a
//! group's signing keys, its signed checkpoints, and witnessing between
//! groups, here or on instances that exchange files. The work is in
//! `pollwatch_server::ledger`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use pollwatch_domain::Slug;
use pollwatch_ledger::witness::AddCheckpoint;
use pollwatch_server::ledger::{self, Keys, LOG_KEY, WITNESS_KEY};
use pollwatch_store::{Store, now};

/// Where a group's private keys and evidence files are.
#[derive(Args, Clone)]
pub struct Place {
    /// The data directory (evidence files under `blobs/`); default
    /// `pollwatch-data` beside the SQLite file.
    #[arg(long, env = "POLLWATCH_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Where the groups' private keys are kept (outside the database);
    /// default `keys/` in the data directory. Keep it off backups that
    /// leave the group.
    #[arg(long, env = "POLLWATCH_KEYS")]
    pub keys: Option<PathBuf>,
}

impl Place {
    pub fn data_dir(&self, database: &str) -> PathBuf {
        self.data_dir
            .clone()
            .unwrap_or_else(|| crate::serve::default_data_dir(database))
    }

    pub fn keys(&self, database: &str) -> Keys {
        Keys::new(
            self.keys
                .clone()
                .unwrap_or_else(|| self.data_dir(database).join("keys")),
        )
    }

    pub fn blobs(&self, database: &str) -> pollwatch_blobs::Blobs {
        pollwatch_blobs::Blobs::local(self.data_dir(database).join("blobs"))
    }
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Make the group's log key (signs its checkpoints) and witness key
    /// (cosigns other groups'). The private keys go into files under
    /// --keys, never into the database; the public keys are printed.
    Create {
        #[arg(long)]
        group: String,
        /// The log's name in its checkpoints, unique in the world: e.g.
        /// your website and the election, `example.org/duma-2026`.
        /// Default `pollwatch/<group>`.
        #[arg(long)]
        origin: Option<String>,
        #[command(flatten)]
        place: Place,
    },
    /// Replace the group's keys with new ones (a lost or exposed key).
    /// Old checkpoints still verify with the old public key, which stays
    /// listed; tell your witnesses the new one.
    Rotate {
        #[arg(long)]
        group: String,
        #[command(flatten)]
        place: Place,
    },
    /// Print the group's public keys.
    Show {
        #[arg(long)]
        group: String,
    },
}

#[derive(Args)]
pub struct CheckpointArgs {
    #[arg(long)]
    group: String,
    #[command(flatten)]
    place: Place,
}

#[derive(Subcommand)]
pub enum WitnessCommand {
    /// Witness another group's log: pin its log key (first use). A later
    /// checkpoint signed by another key is refused.
    Watch {
        /// The witnessing group (here).
        #[arg(long)]
        group: String,
        /// The other group's log key, as `pollwatch key show` prints it.
        #[arg(long)]
        log_key: String,
    },
    /// Accept a changed log key of a watched log, on purpose: only after
    /// the other group confirmed it by another channel.
    Repin {
        #[arg(long)]
        group: String,
        #[arg(long)]
        log_key: String,
    },
    /// Let a witness cosign this group's checkpoints: pin its witness key.
    Trust {
        #[arg(long)]
        group: String,
        /// The witness key, as the witnessing group's `key show` prints it.
        #[arg(long)]
        witness_key: String,
    },
    /// Both directions between two groups of this instance: each watches
    /// the other's log and trusts the other's witness key; their
    /// checkpoints are then cosigned as the server makes them.
    Pair {
        #[arg(long)]
        group: String,
        #[arg(long)]
        with: String,
    },
    /// Write the request a witness cosigns (tlog-witness add-checkpoint:
    /// the latest checkpoint and the proof that it extends the one that
    /// witness last cosigned), to carry to it as a file.
    Request {
        #[arg(long)]
        group: String,
        /// The witness key's name (or the whole key).
        #[arg(long)]
        witness: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// As the witnessing group, check a request and cosign it: written to
    /// --out as the checkpoint with this group's cosignature, to carry back.
    Cosign {
        #[arg(long)]
        group: String,
        #[arg(long)]
        request: PathBuf,
        #[arg(long)]
        out: PathBuf,
        #[command(flatten)]
        place: Place,
    },
    /// Take a cosigned checkpoint back: its cosignatures join the group's checkpoint.
    Import {
        #[arg(long)]
        group: String,
        #[arg(long)]
        cosigned: PathBuf,
    },
    /// Forks this group found as a witness: two checkpoints of a log that
    /// cannot both be true, both signed by it.
    Forks {
        #[arg(long)]
        group: String,
    },
}

async fn group(store: &dyn Store, slug: &str) -> anyhow::Result<pollwatch_domain::Group> {
    let slug = Slug::parse(slug).context("--group")?;
    store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}: create it with `pollwatch admin create-group`"))
}

pub async fn run_key(database: &str, cmd: KeyCommand) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    match cmd {
        KeyCommand::Create {
            group: g,
            origin,
            place,
        } => {
            let g = group(&*store, &g).await?;
            if ledger::current_key(&*store, g.id, LOG_KEY).await?.is_some() {
                anyhow::bail!(
                    "group {} already has keys: `pollwatch key rotate --group {}` replaces them",
                    g.slug,
                    g.slug
                );
            }
            let origin = origin.unwrap_or_else(|| ledger::default_origin(g.slug.as_str()));
            let keys = place.keys(database);
            let (log, witness) = ledger::create_keys(&*store, &keys, &g, &origin).await?;
            store
                .audit("cli", "key-create", g.slug.as_str(), now())
                .await?;
            println!("log key:     {}", log.verifier());
            println!("witness key: {}", witness.verifier());
            println!("private keys in {}", keys.dir().display());
        }
        KeyCommand::Rotate { group: g, place } => {
            let g = group(&*store, &g).await?;
            let old = ledger::current_key(&*store, g.id, LOG_KEY)
                .await?
                .with_context(|| {
                    format!("group {} has no keys yet: `pollwatch key create`", g.slug)
                })?;
            let keys = place.keys(database);
            let (log, witness) = ledger::create_keys(&*store, &keys, &g, old.name()).await?;
            store
                .audit("cli", "key-rotate", g.slug.as_str(), now())
                .await?;
            println!("retired:     {old}");
            println!("log key:     {}", log.verifier());
            println!("witness key: {}", witness.verifier());
            println!(
                "tell your witnesses the new log key; they accept it with `pollwatch witness repin`"
            );
        }
        KeyCommand::Show { group: g } => {
            let g = group(&*store, &g).await?;
            let all = store.ledger_keys(g.id).await?;
            if all.is_empty() {
                println!(
                    "group {} has no keys: `pollwatch key create --group {}`",
                    g.slug, g.slug
                );
            }
            for k in all {
                let state = if k.retired_at.is_some() {
                    "retired"
                } else {
                    "current"
                };
                println!("{:<8} {:<8} {}", k.kind, state, k.verifier);
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Take in the group's log and sign a checkpoint now; print it with its
/// cosignatures and the short string to publish.
pub async fn run_checkpoint(database: &str, args: CheckpointArgs) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    let g = group(&*store, &args.group).await?;
    let keys = args.place.keys(database);
    let blobs = args.place.blobs(database);
    let head = ledger::extend(&*store, &blobs, g.id).await?;
    let key = ledger::signing_key(&*store, &keys, &g, LOG_KEY)
        .await?
        .with_context(|| {
            format!(
                "no log key of group {} in {}: `pollwatch key create --group {}`",
                g.slug,
                keys.dir().display(),
                g.slug
            )
        })?;
    let Some(cp) = ledger::checkpoint_now(&*store, &g, &key).await? else {
        println!("the group's log is empty: nothing to sign yet");
        return Ok(ExitCode::SUCCESS);
    };
    let lines = store
        .checkpoint_at(g.id, cp.size)
        .await?
        .map(|(_, l)| l)
        .unwrap_or_default();
    print!("{}", ledger::with_cosignatures(&cp.note, &lines));
    println!();
    println!("{}", ledger::short_string(key.name(), cp.size, &cp.root));
    eprintln!(
        "{} leaves ({} events); {} cosignature(s)",
        head.size,
        head.last_seq,
        lines.len()
    );
    Ok(ExitCode::SUCCESS)
}

pub async fn run_witness(database: &str, cmd: WitnessCommand) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    match cmd {
        WitnessCommand::Watch { group: g, log_key } => {
            let g = group(&*store, &g).await?;
            let key = pollwatch_ledger::VerifierKey::parse(log_key.trim()).context("--log-key")?;
            store
                .watch_log(g.id, key.name(), &key.to_string(), now())
                .await?;
            println!("group {} witnesses {} with key {key}", g.slug, key.name());
        }
        WitnessCommand::Repin { group: g, log_key } => {
            let g = group(&*store, &g).await?;
            let key = pollwatch_ledger::VerifierKey::parse(log_key.trim()).context("--log-key")?;
            if !store
                .repin_witnessed_log(g.id, key.name(), &key.to_string(), now())
                .await?
            {
                anyhow::bail!(
                    "group {} does not witness {}: use `witness watch`",
                    g.slug,
                    key.name()
                );
            }
            store
                .audit("cli", "witness-repin", key.name(), now())
                .await?;
            println!("group {} now accepts {key} for {}", g.slug, key.name());
        }
        WitnessCommand::Trust {
            group: g,
            witness_key,
        } => {
            let g = group(&*store, &g).await?;
            let key = pollwatch_ledger::VerifierKey::parse(witness_key.trim())
                .context("--witness-key")?;
            if key.kind() != pollwatch_ledger::KeyKind::Cosignature {
                anyhow::bail!(
                    "--witness-key: {} is not a witness (cosignature) key",
                    key.name()
                );
            }
            store
                .add_ledger_witness(g.id, &key.to_string(), now())
                .await?;
            println!("group {} accepts cosignatures by {key}", g.slug);
        }
        WitnessCommand::Pair { group: a, with: b } => {
            let a = group(&*store, &a).await?;
            let b = group(&*store, &b).await?;
            for (log, witness) in [(&a, &b), (&b, &a)] {
                let log_key = ledger::current_key(&*store, log.id, LOG_KEY)
                    .await?
                    .with_context(|| {
                        format!("group {} has no keys: `pollwatch key create`", log.slug)
                    })?;
                let witness_key = ledger::current_key(&*store, witness.id, WITNESS_KEY)
                    .await?
                    .with_context(|| {
                        format!("group {} has no keys: `pollwatch key create`", witness.slug)
                    })?;
                store
                    .watch_log(witness.id, log_key.name(), &log_key.to_string(), now())
                    .await?;
                store
                    .add_ledger_witness(log.id, &witness_key.to_string(), now())
                    .await?;
            }
            println!("groups {} and {} witness each other", a.slug, b.slug);
        }
        WitnessCommand::Request {
            group: g,
            witness,
            out,
        } => {
            let g = group(&*store, &g).await?;
            let name = pollwatch_ledger::VerifierKey::parse(witness.trim())
                .map(|k| k.name().to_owned())
                .unwrap_or_else(|_| witness.trim().to_owned());
            let request = ledger::witness_request(&*store, g.id, &name).await?;
            std::fs::write(&out, request.to_text())
                .with_context(|| format!("writing {}", out.display()))?;
            println!(
                "wrote {}: checkpoint for {name}, from size {}",
                out.display(),
                request.old_size
            );
        }
        WitnessCommand::Cosign {
            group: g,
            request,
            out,
            place,
        } => {
            let g = group(&*store, &g).await?;
            let text = std::fs::read_to_string(&request)
                .with_context(|| format!("reading {}", request.display()))?;
            let parsed =
                AddCheckpoint::parse(&text).with_context(|| request.display().to_string())?;
            let keys = place.keys(database);
            let key = ledger::signing_key(&*store, &keys, &g, WITNESS_KEY)
                .await?
                .with_context(|| {
                    format!(
                        "no witness key of group {} in {}",
                        g.slug,
                        keys.dir().display()
                    )
                })?;
            let cosigned = ledger::cosign_request(&*store, &g, &key, &parsed)
                .await
                .with_context(|| format!("{}: not cosigned", request.display()))?;
            std::fs::write(&out, &cosigned)
                .with_context(|| format!("writing {}", out.display()))?;
            println!("cosigned; wrote {}", out.display());
        }
        WitnessCommand::Import { group: g, cosigned } => {
            let g = group(&*store, &g).await?;
            let text = std::fs::read_to_string(&cosigned)
                .with_context(|| format!("reading {}", cosigned.display()))?;
            let added = ledger::import_cosigned(&*store, g.id, &text)
                .await
                .with_context(|| cosigned.display().to_string())?;
            if added.is_empty() {
                println!("nothing new: these cosignatures were already kept");
            } else {
                println!("cosigned by {}", added.join(", "));
            }
        }
        WitnessCommand::Forks { group: g } => {
            let g = group(&*store, &g).await?;
            let forks = store.ledger_forks(g.id, 100).await?;
            if forks.is_empty() {
                println!("no forks found");
                return Ok(ExitCode::SUCCESS);
            }
            for f in &forks {
                println!("FORK of {} ({}):", f.origin, f.reason);
                println!("-- cosigned before:\n{}", f.cosigned);
                println!("-- offered:\n{}", f.offered);
            }
            return Ok(ExitCode::from(1));
        }
    }
    Ok(ExitCode::SUCCESS)
}
