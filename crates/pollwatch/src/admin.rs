//! `pollwatch admin …`: groups, staff accounts, observers, enrolment codes.
//! Everything done here is written to the audit trail.

use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Args, Subcommand};
use pollwatch_domain::{CodeName, Language, Role, Slug, StationNumber, Timestamp, parse_username};
use pollwatch_server::auth;
use pollwatch_store::{NewObserver, NewUser, SessionOwner, Store, now};

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an independent observer group.
    CreateGroup {
        /// Short name, e.g. "taza-saylau".
        slug: String,
        /// Display name.
        #[arg(long)]
        name: Option<String>,
    },
    /// Create a staff account (admin, coordinator or analyst). The password
    /// is read from POLLWATCH_PASSWORD, or generated and printed once.
    CreateUser {
        username: String,
        #[arg(long)]
        role: String,
        /// The group a coordinator or analyst works for.
        #[arg(long)]
        group: Option<String>,
    },
    /// Register a volunteer by code name (no real name is ever needed).
    CreateObserver(ObserverArgs),
    /// Make a one-time code a volunteer types on their phone to enrol it.
    /// Creates the observer if the code name is new.
    EnrolmentCode(ObserverArgs),
    /// Assign an observer to cover a station.
    Assign {
        #[arg(long)]
        group: String,
        #[arg(long)]
        observer: String,
        #[arg(long)]
        station: String,
        #[arg(long)]
        election: Option<String>,
    },
    /// List an observer's enrolled devices (live sessions) and when each
    /// was last seen.
    Devices {
        #[arg(long)]
        group: String,
        #[arg(long)]
        observer: String,
    },
    /// Revoke an observer's devices: one (`--device ID`, from `devices`) or
    /// all. A revoked phone is refused at once and wipes what it holds.
    RevokeDevices {
        #[arg(long)]
        group: String,
        #[arg(long)]
        observer: String,
        #[arg(long)]
        device: Option<String>,
    },
    /// End every session of a staff account (a lost laptop, a leaver).
    EndSessions { username: String },
}

#[derive(Args)]
pub struct ObserverArgs {
    /// The observer's code name.
    #[arg(long = "observer")]
    pub code_name: String,
    #[arg(long)]
    pub group: String,
    /// Language of the observer's app: en, ru or kk.
    #[arg(long, default_value = "ru")]
    pub language: String,
    /// Optional way to reach them (a messenger handle). Leave it out if
    /// you can: what is not stored cannot be seized.
    #[arg(long)]
    pub contact: Option<String>,
}

pub async fn run(database: &str, cmd: AdminCommand) -> anyhow::Result<ExitCode> {
    let store = crate::open_store(database).await?;
    let at = now();
    match cmd {
        AdminCommand::CreateGroup { slug, name } => {
            let slug = Slug::parse(&slug).context("group")?;
            let name = name.unwrap_or_else(|| slug.to_string());
            let g = store.create_group(&slug, &name, at).await?;
            store
                .audit("cli", "create-group", slug.as_str(), at)
                .await?;
            println!("created group {} ({})", g.slug, g.name);
        }
        AdminCommand::CreateUser {
            username,
            role,
            group,
        } => {
            let username = parse_username(&username).context("username")?;
            let role = Role::parse(&role)?;
            if role == Role::Observer {
                bail!("observers do not get passwords: use `pollwatch admin enrolment-code`");
            }
            let group_id = match (role, group) {
                (Role::Admin, None) => None,
                (Role::Admin, Some(_)) => bail!("admins stand above groups: leave out --group"),
                (_, Some(g)) => Some(find_group(&*store, &g).await?.id),
                (_, None) => bail!("a {} needs --group", role.as_str()),
            };
            let (password, generated) = match std::env::var("POLLWATCH_PASSWORD") {
                Ok(p) => (p, false),
                Err(_) => (auth::new_token()[..24].to_owned(), true),
            };
            auth::check_password_strength(&password).map_err(anyhow::Error::msg)?;
            let password_hash = auth::hash_password(&password)?;
            let user = store
                .create_user(
                    NewUser {
                        group_id,
                        username: username.clone(),
                        role,
                        password_hash,
                    },
                    at,
                )
                .await?;
            store.audit("cli", "create-user", &username, at).await?;
            println!("created {} {}", user.role.as_str(), user.username);
            if generated {
                println!("password (shown once): {password}");
            }
        }
        AdminCommand::CreateObserver(args) => {
            let o = create_observer(&*store, &args, at).await?;
            println!("created observer {}", o.code_name);
        }
        AdminCommand::EnrolmentCode(args) => {
            let group = find_group(&*store, &args.group).await?;
            let code_name = CodeName::parse(&args.code_name).context("observer")?;
            let observer = match store.observer_by_code_name(group.id, &code_name).await? {
                Some(o) => o,
                None => create_observer(&*store, &args, at).await?,
            };
            let code = auth::new_enrolment_code();
            let expires = Timestamp(at.0 + auth::ENROLMENT_CODE_MS);
            store
                .create_enrolment_code(
                    &auth::enrolment_code_hash(&code),
                    group.id,
                    observer.id,
                    expires,
                    at,
                )
                .await?;
            store
                .audit("cli", "enrolment-code", observer.code_name.as_str(), at)
                .await?;
            println!(
                "enrolment code for {} ({}): {code}\nvalid once, for 7 days: open /enrol on the phone and type it",
                observer.code_name, group.slug
            );
        }
        AdminCommand::Assign {
            group,
            observer,
            station,
            election,
        } => {
            let group = find_group(&*store, &group).await?;
            let code_name = CodeName::parse(&observer).context("observer")?;
            let observer = store
                .observer_by_code_name(group.id, &code_name)
                .await?
                .with_context(|| format!("no observer {code_name} in group {}", group.slug))?;
            let election = crate::pick_election(&*store, election.as_deref())
                .await?
                .context("no election yet: import a station registry first")?;
            let number = StationNumber::parse(&station).context("station")?;
            let s = store
                .station(election.id, &number)
                .await?
                .with_context(|| format!("no station {number} in election {}", election.slug))?;
            // Logged like a coordinator's change on the web, with the
            // shell as its author, in the same transaction as the table.
            let event = pollwatch_domain::NewEvent {
                client_id: pollwatch_domain::ClientId::from_bytes(rand::random()),
                group_id: group.id,
                observer_id: None,
                station_id: Some(s.id),
                kind: pollwatch_domain::EventKind::Assignment,
                payload: serde_json::json!({
                    "observer": observer.id,
                    "station": s.id,
                    "change": "assign",
                    "by": "cli",
                }),
                observed_at: at,
                supersedes: None,
            };
            let changed = store.change_assignments(group.id, vec![event]).await?;
            store
                .audit("cli", "assign", &format!("{code_name} -> {number}"), at)
                .await?;
            if changed.iter().all(Option::is_none) {
                println!("{code_name} already covers station {number}");
            } else {
                println!("{code_name} covers station {number}");
            }
        }
        AdminCommand::Devices { group, observer } => {
            let (_, o) = find_observer(&*store, &group, &observer).await?;
            let owner = SessionOwner::Observer {
                group_id: o.group_id,
                observer_id: o.id,
            };
            let list = store.sessions_of(owner, at).await?;
            if list.is_empty() {
                println!("{} has no enrolled device", o.code_name);
            }
            for s in list {
                println!(
                    "{}  {}  enrolled {}  last seen {}",
                    s.id,
                    if s.device.is_empty() {
                        "not used yet"
                    } else {
                        &s.device
                    },
                    pollwatch_server::api::format_time(s.created_at),
                    pollwatch_server::api::format_time(s.last_seen_at),
                );
            }
        }
        AdminCommand::RevokeDevices {
            group,
            observer,
            device,
        } => {
            let (_, o) = find_observer(&*store, &group, &observer).await?;
            let owner = SessionOwner::Observer {
                group_id: o.group_id,
                observer_id: o.id,
            };
            let n = store
                .revoke_sessions(owner, device.as_deref(), None, at)
                .await?;
            if device.is_some() && n == 0 {
                bail!(
                    "{} has no live device {}: see `pollwatch admin devices`",
                    o.code_name,
                    device.unwrap_or_default()
                );
            }
            store
                .audit(
                    "cli",
                    "revoke-devices",
                    &format!("{}: {n} device(s)", o.code_name),
                    at,
                )
                .await?;
            println!("revoked {n} device(s) of {}", o.code_name);
        }
        AdminCommand::EndSessions { username } => {
            let (user, _) = store
                .user_for_login(&username.to_lowercase())
                .await?
                .with_context(|| format!("no staff account {username}"))?;
            let n = store
                .revoke_sessions(SessionOwner::User { user_id: user.id }, None, None, at)
                .await?;
            store
                .audit("cli", "end-sessions", &format!("{username}: {n}"), at)
                .await?;
            println!("ended {n} session(s) of {username}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn find_observer(
    store: &dyn Store,
    group: &str,
    observer: &str,
) -> anyhow::Result<(pollwatch_domain::Group, pollwatch_domain::Observer)> {
    let group = find_group(store, group).await?;
    let code_name = CodeName::parse(observer).context("observer")?;
    let o = store
        .observer_by_code_name(group.id, &code_name)
        .await?
        .with_context(|| format!("no observer {code_name} in group {}", group.slug))?;
    Ok((group, o))
}

async fn find_group(store: &dyn Store, slug: &str) -> anyhow::Result<pollwatch_domain::Group> {
    let slug = Slug::parse(slug).context("group")?;
    store
        .group(&slug)
        .await?
        .with_context(|| format!("no group {slug}: create it with `pollwatch admin create-group`"))
}

async fn create_observer(
    store: &dyn Store,
    args: &ObserverArgs,
    at: Timestamp,
) -> anyhow::Result<pollwatch_domain::Observer> {
    let group = find_group(store, &args.group).await?;
    let observer = store
        .create_observer(
            NewObserver {
                group_id: group.id,
                code_name: CodeName::parse(&args.code_name).context("observer")?,
                language: Language::parse(&args.language).context("language")?,
                contact: args.contact.clone(),
            },
            at,
        )
        .await?;
    store
        .audit("cli", "create-observer", observer.code_name.as_str(), at)
        .await?;
    Ok(observer)
}
