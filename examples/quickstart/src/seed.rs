//! `--seed-demo`: a few hundred realistic events over the last 30 days, so
//! the read side has something to show before anyone has clicked anything.
//!
//! Three tenants (`acme`, `globex`, `initech`), users and an API key, apps
//! created, renamed and deleted, members invited and promoted, sign-ins that
//! succeed and fail, a denied role change, audit-log reads and exports —
//! with client addresses, user agents, routes, statuses and request ids.
//! The events go through the auditor like any other (redaction, hashing,
//! sequence numbers). Seeding is recorded as `demo.seeded`; a second run
//! finds it and does nothing.

use audit_core::catalogue::DeclaredAction;
use audit_core::{
    Actor, Auditor, Event, EventBuilder, EventContext, IpSource, Outcome, Severity, Snapshot, Target, Timestamp,
    new_event_id,
};
use audit_store::{AuditQuery, Store};
use serde_json::json;

use crate::Error;
use crate::actions;

/// The action marking a seeded store.
pub const SEEDED_ACTION: &str = actions::DEMO_SEEDED.name();

/// How many events one seeding records (the marker included).
pub const SEED_EVENTS: usize = 360;

const DAY_MICROS: i64 = 86_400_000_000;

/// What [`seed_demo`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seeded {
    /// Recorded this many events.
    Recorded(usize),
    /// The store was seeded before; nothing recorded.
    AlreadySeeded,
}

struct Person {
    actor: fn() -> Actor,
    tenant: &'static str,
    ip: &'static str,
    user_agent: &'static str,
    manager: bool,
}

const BROWSER: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const EDGE: &str = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0";

const PEOPLE: [Person; 8] = [
    Person {
        actor: || user("user_alice", "Alice", "alice@acme.test", "owner"),
        tenant: "acme",
        ip: "203.0.113.10",
        user_agent: BROWSER,
        manager: true,
    },
    Person {
        actor: || user("user_bob", "Bob", "bob@acme.test", "member"),
        tenant: "acme",
        ip: "203.0.113.24",
        user_agent: FIREFOX,
        manager: false,
    },
    Person {
        actor: || user("user_dave", "Dave", "dave@acme.test", "admin"),
        tenant: "acme",
        ip: "198.51.100.7",
        user_agent: EDGE,
        manager: true,
    },
    Person {
        actor: || Actor::api_key("key_acme_ci").with_name("Acme CI").with_role("admin"),
        tenant: "acme",
        ip: "192.0.2.200",
        user_agent: "acme-deploy/2.3.1 (+github-actions)",
        manager: true,
    },
    Person {
        actor: || user("user_carol", "Carol", "carol@globex.test", "admin"),
        tenant: "globex",
        ip: "198.51.100.42",
        user_agent: BROWSER,
        manager: true,
    },
    Person {
        actor: || user("user_erin", "Erin", "erin@globex.test", "member"),
        tenant: "globex",
        ip: "198.51.100.43",
        user_agent: "curl/8.5.0",
        manager: false,
    },
    Person {
        actor: || user("user_frank", "Frank", "frank@initech.test", "owner"),
        tenant: "initech",
        ip: "192.0.2.15",
        user_agent: EDGE,
        manager: true,
    },
    Person {
        actor: || user("user_grace", "Grace", "grace@initech.test", "member"),
        tenant: "initech",
        ip: "192.0.2.16",
        user_agent: FIREFOX,
        manager: false,
    },
];

fn user(id: &str, name: &str, email: &str, role: &str) -> Actor {
    Actor::user(id).with_name(name).with_email(email).with_role(role)
}

const APP_NAMES: [&str; 12] = [
    "Billing",
    "Checkout",
    "Search",
    "Mobile API",
    "Data Warehouse",
    "Status Page",
    "Admin Console",
    "Webhooks",
    "Notifications",
    "Reporting",
    "Inventory",
    "Customer Portal",
];

const INVITEES: [&str; 8] = ["hana", "ivan", "jules", "kemal", "lena", "mateo", "noor", "oskar"];

/// Records the demo events through `auditor` into `store`, unless the store
/// was seeded before.
///
/// # Errors
/// When the store cannot be queried or the auditor refuses events.
pub async fn seed_demo(store: &Store, auditor: &Auditor) -> Result<Seeded, Error> {
    let marker = AuditQuery::new().action(actions::DEMO_SEEDED.action()).limit(1);
    if !store.query(&marker).await?.events.is_empty() {
        return Ok(Seeded::AlreadySeeded);
    }
    let now = Timestamp::now().unix_micros();
    let mut rng = fastrand::Rng::with_seed(0x5eed_de30);
    let mut times: Vec<i64> = (0..SEED_EVENTS - 1)
        .map(|_| now - rng.i64(60_000_000..30 * DAY_MICROS))
        .collect();
    times.sort_unstable();

    let mut world = World::default();
    let mut count = 0;
    for at in times {
        let event = world.next_event(&mut rng, Timestamp::from_unix_micros(at).ok_or("time out of range")?);
        auditor.record(event).await?;
        count += 1;
    }
    let marker = Event::builder(actions::DEMO_SEEDED, Actor::system("quickstart"))
        .description(format!("Seeded {count} demo events over the last 30 days"))
        .metadata("events", &count);
    auditor.record(marker).await?;
    auditor.flush().await?;
    Ok(Seeded::Recorded(count + 1))
}

/// The apps and members the seeded history has created so far, per tenant.
#[derive(Default)]
struct World {
    apps: Vec<(&'static str, String, String)>,
    invited: Vec<(&'static str, String, String, String)>,
    next: usize,
}

impl World {
    fn next_event(&mut self, rng: &mut fastrand::Rng, at: Timestamp) -> EventBuilder {
        let person = &PEOPLE[rng.usize(..PEOPLE.len())];
        let mut actor = (person.actor)();
        let tenant = person.tenant;
        self.next += 1;
        let roll = rng.u32(..100);
        let (builder, method, route, status) = match roll {
            0..=17 => {
                let name = APP_NAMES[rng.usize(..APP_NAMES.len())].to_owned();
                let id = format!("app_{:012x}", rng.u64(..) & 0xffff_ffff_ffff);
                self.apps.push((tenant, id.clone(), name.clone()));
                let state = json!({"id": id, "name": name});
                let builder = event(actions::APP_CREATED, &actor, tenant)
                    .target(Target::new("app", &id).with_name(&name))
                    .after(&Snapshot(&state))
                    .description(format!("Created app {name}"));
                (builder, "POST", "/apps", 201)
            }
            18..=31 => match self.pick_app(rng, tenant) {
                Some((id, old)) => {
                    let new = format!("{old} {}", ["v2", "(legacy)", "EU", "Beta", "Next"][rng.usize(..5)]);
                    self.rename_app(&id, &new);
                    let builder = event(actions::APP_UPDATED, &actor, tenant)
                        .target(Target::new("app", &id).with_name(&new))
                        .before(&Snapshot(&json!({"id": id, "name": old})))
                        .after(&Snapshot(&json!({"id": id, "name": new})))
                        .description(format!("Renamed app {old} to {new}"));
                    (builder, "PATCH", "/apps/{id}", 200)
                }
                None => not_found(&actor, tenant),
            },
            32..=37 => match self.pick_app(rng, tenant) {
                Some((id, name)) => {
                    self.apps.retain(|(_, app, _)| *app != id);
                    let builder = event(actions::APP_DELETED, &actor, tenant)
                        .severity(Severity::Critical)
                        .target(Target::new("app", &id).with_name(&name))
                        .before(&Snapshot(&json!({"id": id, "name": name})))
                        .description(format!("Deleted app {name}"));
                    (builder, "DELETE", "/apps/{id}", 204)
                }
                None => not_found(&actor, tenant),
            },
            38..=45 if person.manager => {
                let who = INVITEES[rng.usize(..INVITEES.len())];
                let email = format!("{who}{}@{tenant}.test", self.next);
                let id = format!("user_{:012x}", rng.u64(..) & 0xffff_ffff_ffff);
                let role = if rng.u8(..4) == 0 { "admin" } else { "member" };
                self.invited.push((tenant, id.clone(), email.clone(), role.to_owned()));
                let builder = event(actions::MEMBER_INVITED, &actor, tenant)
                    .target(Target::new("member", &id).with_name(&email))
                    .after(&Snapshot(&json!({"id": id, "email": email, "role": role})))
                    .metadata("email", &email)
                    .description(format!("Invited {email} as {role}"));
                (builder, "POST", "/members", 201)
            }
            46..=52 => match self.pick_member(rng, tenant) {
                None => not_found(&actor, tenant),
                Some((id, email, old)) => {
                    let new = if old == "admin" { "member" } else { "admin" };
                    let base = event(actions::MEMBER_ROLE_CHANGED, &actor, tenant)
                        .severity(Severity::Notice)
                        .target(Target::new("member", &id).with_name(&email))
                        .metadata("requested_role", new);
                    if person.manager {
                        self.set_role(&id, new);
                        let builder = base
                            .before(&Snapshot(&json!({"id": id, "email": email, "role": old})))
                            .after(&Snapshot(&json!({"id": id, "email": email, "role": new})))
                            .description(format!("Changed the role of {email} from {old} to {new}"));
                        (builder, "PATCH", "/members/{id}/role", 200)
                    } else {
                        let builder = base
                            .outcome(Outcome::Denied)
                            .reason("only an owner or admin of the tenant may do this");
                        (builder, "PATCH", "/members/{id}/role", 403)
                    }
                }
            },
            53..=77 => {
                let failed = rng.u8(..6) == 0 || actor.kind == audit_core::ActorKind::ApiKey;
                if actor.kind == audit_core::ActorKind::ApiKey {
                    actor = user("user_bob", "Bob", "bob@acme.test", "member");
                }
                let email = actor.email.clone().unwrap_or_default();
                let target = Target::new("user", &actor.id).with_name(&email);
                let builder = if failed {
                    Event::builder(actions::AUTH_LOGIN, Actor::anonymous())
                        .tenant(tenant)
                        .target(target)
                        .outcome(Outcome::Failure)
                        .reason("invalid email or password")
                        .severity(Severity::Warning)
                        .metadata("email", &email)
                        .description(format!("Failed sign-in as {email}"))
                } else {
                    event(actions::AUTH_LOGIN, &actor, tenant)
                        .target(target)
                        .metadata("email", &email)
                        .description(format!("{email} signed in"))
                };
                (builder, "POST", "/login", if failed { 401 } else { 200 })
            }
            _ if person.manager => {
                let exported = rng.u8(..5) == 0;
                let (action, route) = if exported {
                    (actions::AUDIT_LOG_EXPORTED, "/audit-logs/export")
                } else {
                    (actions::AUDIT_LOG_VIEWED, "/audit-logs/")
                };
                let mut filters = serde_json::Map::new();
                if exported {
                    filters.insert("format".into(), json!("csv"));
                }
                if rng.bool() {
                    filters.insert(
                        "action".into(),
                        json!(["app.*", "member.*", "auth.login"][rng.usize(..3)]),
                    );
                }
                let builder = event(action, &actor, tenant)
                    .metadata("filters", &filters)
                    .description(if exported {
                        "Exported the audit log".to_owned()
                    } else {
                        "Viewed the audit log".to_owned()
                    });
                (builder, "GET", route, 200)
            }
            _ => {
                // A member looking at the audit log: refused.
                let builder = event(actions::AUDIT_LOG_VIEWED, &actor, tenant)
                    .outcome(Outcome::Denied)
                    .reason("reading the audit log needs the role `owner` or `admin` in your tenant");
                (builder, "GET", "/audit-logs/", 403)
            }
        };
        builder
            .occurred_at(at)
            .context(context(person, method, route, status, at))
    }

    fn pick_app(&self, rng: &mut fastrand::Rng, tenant: &str) -> Option<(String, String)> {
        let mine: Vec<_> = self.apps.iter().filter(|(t, _, _)| *t == tenant).collect();
        let (_, id, name) = mine.get(rng.usize(..mine.len().max(1)))?;
        Some((id.clone(), name.clone()))
    }

    fn rename_app(&mut self, id: &str, name: &str) {
        if let Some(app) = self.apps.iter_mut().find(|(_, app, _)| app == id) {
            app.2 = name.to_owned();
        }
    }

    fn pick_member(&self, rng: &mut fastrand::Rng, tenant: &str) -> Option<(String, String, String)> {
        let mine: Vec<_> = self.invited.iter().filter(|(t, ..)| *t == tenant).collect();
        let (_, id, email, role) = mine.get(rng.usize(..mine.len().max(1)))?;
        Some((id.clone(), email.clone(), role.clone()))
    }

    fn set_role(&mut self, id: &str, role: &str) {
        if let Some(member) = self.invited.iter_mut().find(|(_, member, ..)| member == id) {
            role.clone_into(&mut member.3);
        }
    }
}

fn event(action: DeclaredAction, actor: &Actor, tenant: &str) -> EventBuilder {
    Event::builder(action, actor.clone()).tenant(tenant)
}

/// An attempt on an app that is gone: a 404, recorded as a failure.
fn not_found(actor: &Actor, tenant: &str) -> (EventBuilder, &'static str, &'static str, u16) {
    let builder = event(actions::APP_UPDATED, actor, tenant)
        .target(Target::new("app", "app_000000000000"))
        .outcome(Outcome::Failure)
        .reason("no such app");
    (builder, "PATCH", "/apps/{id}", 404)
}

fn context(person: &Person, method: &str, route: &str, status: u16, at: Timestamp) -> EventContext {
    let ip = person.ip.parse().ok();
    EventContext {
        client_ip: ip,
        peer_ip: ip,
        ip_source: Some(IpSource::Peer),
        user_agent: Some(person.user_agent.to_owned()),
        request_id: Some(new_event_id(at).to_string()),
        client_request_id: None,
        method: Some(method.to_owned()),
        route: Some(route.to_owned()),
        status: Some(status),
        trace_id: None,
        span_id: None,
    }
}
