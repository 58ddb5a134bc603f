//! OCSF 1.1.0 records: Authentication, Account Change or API Activity.

use serde_json::{Map, Value, json};

use super::{FormatOptions, PERSON_TYPES, all_targets, epoch_millis, is_type, severity_row};
use crate::action::Category;
use crate::event::{Actor, ActorKind, Event, Outcome, Target};

/// The OCSF schema version the records follow (`metadata.version`).
///
/// ```
/// assert_eq!(audit_core::format::OCSF_VERSION, "1.1.0");
/// ```
pub const OCSF_VERSION: &str = "1.1.0";

/// Target types (and first action segments) that make an event an Account Change.
const ACCOUNT_TYPES: &[&str] = &[
    "user",
    "member",
    "account",
    "identity",
    "service_account",
    "role",
    "api_key",
    "password",
    "mfa",
];

const MFA_WORDS: &[&str] = &["mfa", "totp", "otp", "webauthn", "passkey", "factor"];
const MFA_ON: &[&str] = &["enabled", "added", "created", "registered", "activated", "enrolled"];
const MFA_OFF: &[&str] = &["disabled", "removed", "deleted", "revoked", "deactivated", "unenrolled"];
const PASSWORD_WORDS: &[&str] = &["password", "passphrase"];
const ROLE_WORDS: &[&str] = &[
    "role",
    "roles",
    "permission",
    "permissions",
    "policy",
    "policies",
    "privilege",
    "privileges",
];
const ROLE_NAMESPACES: &[&str] = &["role", "policy", "permission"];
const ATTACH: &[&str] = &["granted", "assigned", "attached", "added", "changed", "updated", "set"];
const DETACH: &[&str] = &["revoked", "removed", "unassigned", "detached"];
const NAMESPACE_ATTACH: &[&str] = &["granted", "assigned", "attached"];
const NAMESPACE_DETACH: &[&str] = &["revoked", "unassigned", "detached"];
const ENABLE: &[&str] = &["enabled", "activated", "reactivated", "unsuspended", "unblocked"];
const DISABLE: &[&str] = &["disabled", "deactivated", "suspended", "blocked"];

/// The OCSF event class of an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Authentication,
    AccountChange,
    ApiActivity,
}

impl Class {
    fn uid(self) -> u32 {
        match self {
            Self::Authentication => 3002,
            Self::AccountChange => 3001,
            Self::ApiActivity => 6003,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Self::Authentication => "Authentication",
            Self::AccountChange => "Account Change",
            Self::ApiActivity => "API Activity",
        }
    }

    fn category(self) -> (u32, &'static str) {
        match self {
            Self::Authentication | Self::AccountChange => (3, "Identity & Access Management"),
            Self::ApiActivity => (6, "Application Activity"),
        }
    }
}

/// The action's words: its segments split at `_` (`member.role_changed` →
/// `member`, `role`, `changed`).
fn words(event: &Event) -> impl Iterator<Item = &str> {
    event.action().as_str().split(['.', '_'])
}

fn has_word(event: &Event, set: &[&str]) -> bool {
    words(event).any(|word| set.contains(&word))
}

/// The last word of the action (`changed` in `member.role_changed`).
fn last_word(event: &Event) -> &str {
    event.action().as_str().rsplit(['.', '_']).next().unwrap_or_default()
}

/// The class and activity (id, caption) of an event: the rules of the module docs.
fn classify(event: &Event) -> (Class, u8, &'static str) {
    let category = event.category();
    if category == Category::Auth {
        let (id, name) = account_activity(event);
        // A password change or reset, an MFA factor enabled or disabled.
        if matches!(id, 3 | 4 | 10 | 11) {
            return (Class::AccountChange, id, name);
        }
        let (id, name) = authentication_activity(event);
        return (Class::Authentication, id, name);
    }
    if category != Category::Access {
        let namespace = event.action().namespace();
        let account = ACCOUNT_TYPES.contains(&namespace) || event.target().is_some_and(|t| is_type(t, ACCOUNT_TYPES));
        if account {
            let (id, name) = account_activity(event);
            return (Class::AccountChange, id, name);
        }
    }
    let (id, name) = match category {
        Category::Create => (1, "Create"),
        Category::Access => (2, "Read"),
        Category::Update => (3, "Update"),
        Category::Delete => (4, "Delete"),
        Category::Auth | Category::Other => (99, "Other"),
    };
    (Class::ApiActivity, id, name)
}

/// Logon, Logoff or Other.
fn authentication_activity(event: &Event) -> (u8, &'static str) {
    let words: Vec<&str> = words(event).collect();
    let pair = |second: &[&str]| {
        words
            .windows(2)
            .any(|w| ["log", "logged", "sign", "signed"].contains(&w[0]) && second.contains(&w[1]))
    };
    if words.iter().any(|w| ["login", "logon", "signin"].contains(w)) || pair(&["in", "on"]) {
        (1, "Logon")
    } else if words.iter().any(|w| ["logout", "logoff", "signout"].contains(w)) || pair(&["out", "off"]) {
        (2, "Logoff")
    } else {
        (99, "Other")
    }
}

/// The Account Change activity of an event.
fn account_activity(event: &Event) -> (u8, &'static str) {
    let last = last_word(event);
    if has_word(event, MFA_WORDS) {
        if MFA_ON.contains(&last) {
            return (10, "MFA Factor Enable");
        }
        if MFA_OFF.contains(&last) {
            return (11, "MFA Factor Disable");
        }
    }
    if has_word(event, PASSWORD_WORDS) {
        return if has_word(event, &["reset"]) {
            (4, "Password Reset")
        } else {
            (3, "Password Change")
        };
    }
    let role_in_verb = event.action().verb().split('_').any(|w| ROLE_WORDS.contains(&w));
    let role_namespace = ROLE_NAMESPACES.contains(&event.action().namespace());
    if (role_in_verb && ATTACH.contains(&last)) || (role_namespace && NAMESPACE_ATTACH.contains(&last)) {
        return (7, "Attach Policy");
    }
    if (role_in_verb && DETACH.contains(&last)) || (role_namespace && NAMESPACE_DETACH.contains(&last)) {
        return (8, "Detach Policy");
    }
    if last == "locked" {
        return (9, "Lock");
    }
    if ENABLE.contains(&last) {
        return (2, "Enable");
    }
    if DISABLE.contains(&last) {
        return (5, "Disable");
    }
    match event.category() {
        Category::Create => (1, "Create"),
        Category::Delete => (6, "Delete"),
        _ => (99, "Other"),
    }
}

/// OCSF user `type_id` and `type` of an actor kind.
fn actor_type(kind: ActorKind) -> (u8, &'static str) {
    match kind {
        ActorKind::User => (1, "User"),
        ActorKind::System => (3, "System"),
        ActorKind::ApiKey | ActorKind::Service | ActorKind::Anonymous => (99, kind.as_str()),
    }
}

/// Inserts `value` under `key` when it is present.
fn put<T: Into<Value>>(map: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        map.insert(key.to_owned(), value.into());
    }
}

/// Inserts `object` under `key` unless it is empty.
fn put_object(map: &mut Map<String, Value>, key: &str, object: Map<String, Value>) {
    if !object.is_empty() {
        map.insert(key.to_owned(), Value::Object(object));
    }
}

fn actor_user(actor: &Actor) -> Value {
    let (type_id, type_name) = actor_type(actor.kind);
    let mut user = Map::new();
    user.insert("uid".into(), actor.id.clone().into());
    put(&mut user, "name", actor.name.clone());
    put(&mut user, "email_addr", actor.email.clone());
    user.insert("type_id".into(), type_id.into());
    user.insert("type".into(), type_name.into());
    Value::Object(user)
}

fn target_user(target: &Target) -> Value {
    let mut user = Map::new();
    user.insert("uid".into(), target.id.clone().into());
    put(&mut user, "name", target.name.clone());
    if !is_type(target, PERSON_TYPES) {
        user.insert("type_id".into(), 99.into());
        user.insert("type".into(), target.target_type.clone().into());
    }
    Value::Object(user)
}

/// The account an Authentication or Account Change is about.
fn account_user(event: &Event) -> Value {
    let account = super::person_target(event).or_else(|| all_targets(event).find(|t| is_type(t, ACCOUNT_TYPES)));
    match account {
        Some(target) => target_user(target),
        None => actor_user(event.actor()),
    }
}

fn resource(target: &Target) -> Value {
    let mut resource = Map::new();
    resource.insert("uid".into(), target.id.clone().into());
    resource.insert("type".into(), target.target_type.clone().into());
    put(&mut resource, "name", target.name.clone());
    Value::Object(resource)
}

/// `is_mfa` from a boolean metadata value, when there is one.
fn is_mfa(event: &Event) -> Option<bool> {
    ["mfa", "is_mfa", "mfa_used", "mfa_verified"]
        .iter()
        .find_map(|key| event.metadata().get(*key).and_then(Value::as_bool))
}

/// The event as an OCSF 1.1.0 record: the class, fields and tables of the
/// [module docs](super).
///
/// ```
/// use audit_core::{Action, Actor, Event, Outcome, Target, format::{FormatOptions, ocsf}};
///
/// let event = Event::builder(Action::new("auth.login_failed")?, Actor::anonymous())
///     .target(Target::new("user", "user_bob"))
///     .outcome(Outcome::Failure)
///     .reason("wrong password")
///     .build();
/// let record = ocsf(&event, &FormatOptions::default());
/// assert_eq!(record["class_uid"], 3002);
/// assert_eq!(record["type_uid"], 300201);
/// assert_eq!(record["status_id"], 2);
/// assert_eq!(record["status_detail"], "wrong password");
/// assert_eq!(record["user"]["uid"], "user_bob");
/// assert_eq!(record["metadata"]["version"], "1.1.0");
/// assert!(record.get("message").is_none(), "absent fields are left out");
/// # Ok::<(), audit_core::ActionError>(())
/// ```
pub fn ocsf(event: &Event, options: &FormatOptions) -> Value {
    let (class, activity_id, activity_name) = classify(event);
    let (category_uid, category_name) = class.category();
    let (severity_id, severity, _, _) = severity_row(event.severity());
    let (status_id, status) = match event.outcome() {
        Outcome::Success => (1, "Success"),
        Outcome::Failure | Outcome::Denied => (2, "Failure"),
    };
    let context = event.context();
    let request_id = context.request_id.clone();

    let mut record = Map::new();
    record.insert("class_uid".into(), class.uid().into());
    record.insert("class_name".into(), class.name().into());
    record.insert("category_uid".into(), category_uid.into());
    record.insert("category_name".into(), category_name.into());
    record.insert("activity_id".into(), activity_id.into());
    record.insert("activity_name".into(), activity_name.into());
    record.insert("type_uid".into(), (class.uid() * 100 + u32::from(activity_id)).into());
    record.insert("type_name".into(), format!("{}: {activity_name}", class.name()).into());
    record.insert("time".into(), epoch_millis(event.occurred_at()).into());
    record.insert("severity_id".into(), severity_id.into());
    record.insert("severity".into(), severity.into());
    record.insert("status_id".into(), status_id.into());
    record.insert("status".into(), status.into());
    record.insert("status_code".into(), event.outcome().as_str().into());
    put(&mut record, "status_detail", event.reason());
    put(&mut record, "message", event.description());

    let mut metadata = Map::new();
    metadata.insert("version".into(), OCSF_VERSION.into());
    metadata.insert(
        "product".into(),
        json!({
            "name": options.product_name,
            "vendor_name": options.product_vendor,
            "version": options.product_version,
        }),
    );
    metadata.insert("uid".into(), event.id().to_string().into());
    put(&mut metadata, "correlation_uid", request_id.clone());
    put(&mut metadata, "tenant_uid", event.tenant_id());
    if let Some(integrity) = event.integrity() {
        metadata.insert("log_name".into(), integrity.stream.clone().into());
        metadata.insert("sequence".into(), integrity.seq.into());
    }
    metadata.insert("original_time".into(), event.occurred_at().to_string().into());
    put(&mut metadata, "logged_time", event.recorded_at().map(epoch_millis));
    record.insert("metadata".into(), Value::Object(metadata));

    record.insert("actor".into(), json!({ "user": actor_user(event.actor()) }));

    let mut src_endpoint = Map::new();
    put(&mut src_endpoint, "ip", context.client_ip.map(|ip| ip.to_string()));
    put_object(&mut record, "src_endpoint", src_endpoint);

    let mut http_request = Map::new();
    put(&mut http_request, "http_method", context.method.clone());
    put(&mut http_request, "user_agent", context.user_agent.clone());
    if let Some(route) = &context.route {
        http_request.insert("url".into(), json!({ "path": route }));
    }
    put_object(&mut record, "http_request", http_request);

    let mut api = Map::new();
    api.insert("operation".into(), event.action().as_str().into());
    if let Some(uid) = request_id {
        api.insert("request".into(), json!({ "uid": uid }));
    }
    if let Some(code) = context.status {
        api.insert("response".into(), json!({ "code": code }));
    }
    record.insert("api".into(), Value::Object(api));

    let targets: Vec<Value> = all_targets(event).map(resource).collect();
    match class {
        Class::ApiActivity => {
            if !targets.is_empty() {
                record.insert("resources".into(), targets.clone().into());
            }
        }
        Class::Authentication => {
            record.insert("user".into(), account_user(event));
            put(&mut record, "is_mfa", is_mfa(event));
        }
        Class::AccountChange => {
            record.insert("user".into(), account_user(event));
        }
    }

    let mut unmapped = Map::new();
    unmapped.insert("category".into(), event.category().as_str().into());
    unmapped.insert("severity".into(), event.severity().as_str().into());
    let roles = &event.actor().roles;
    if !roles.is_empty() {
        unmapped.insert("actor_roles".into(), roles.clone().into());
    }
    if class != Class::ApiActivity && !targets.is_empty() {
        unmapped.insert("targets".into(), targets.into());
    }
    put(&mut unmapped, "client_request_id", context.client_request_id.clone());
    put(&mut unmapped, "peer_ip", context.peer_ip.map(|ip| ip.to_string()));
    put(
        &mut unmapped,
        "ip_source",
        context.ip_source.map(|source| source.as_str()),
    );
    put(&mut unmapped, "trace_id", context.trace_id.clone());
    put(&mut unmapped, "span_id", context.span_id.clone());
    put(
        &mut unmapped,
        "leaf_hash",
        event.integrity().map(|integrity| integrity.leaf_hash.clone()),
    );
    if let Some(changes) = event.changes() {
        let mut object = Map::new();
        put(&mut object, "before", changes.before.clone());
        put(&mut object, "after", changes.after.clone());
        if !changes.diff.is_empty() {
            put(&mut object, "diff", serde_json::to_value(&changes.diff).ok());
        }
        put_object(&mut unmapped, "changes", object);
    }
    if !event.metadata().is_empty() {
        unmapped.insert("metadata".into(), Value::Object(event.metadata().clone()));
    }
    if event.truncated() {
        unmapped.insert("truncated".into(), true.into());
    }
    if event.lossy_utf8() {
        unmapped.insert("lossy_utf8".into(), true.into());
    }
    record.insert("unmapped".into(), Value::Object(unmapped));

    Value::Object(record)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::event::Severity;

    fn event(action: &str) -> Event {
        Event::builder(crate::Action::new(action).unwrap(), Actor::user("u1")).build()
    }

    fn class_and_activity(event: &Event) -> (u32, u8) {
        let (class, id, _) = classify(event);
        (class.uid(), id)
    }

    #[test]
    fn class_and_activity_by_action() {
        let table: &[(&str, u32, u8)] = &[
            // Authentication: every auth.* action, logins and logouts.
            ("auth.login", 3002, 1),
            ("auth.login_failed", 3002, 1),
            ("auth.logon", 3002, 1),
            ("user.logged_in", 3002, 1),
            ("user.signed_in", 3002, 1),
            ("auth.sign_in", 3002, 1),
            ("auth.logout", 3002, 2),
            ("user.logged_out", 3002, 2),
            ("user.signed_out", 3002, 2),
            ("auth.denied", 3002, 99),
            ("auth.token_revoked", 3002, 99),
            ("auth.mfa_challenge_failed", 3002, 99),
            // ... except password and MFA changes.
            ("auth.password_changed", 3001, 3),
            ("auth.password_reset", 3001, 4),
            ("auth.mfa_enabled", 3001, 10),
            // Account Change, by first segment.
            ("user.created", 3001, 1),
            ("user.invited", 3001, 1),
            ("member.added", 3001, 1),
            ("user.deleted", 3001, 6),
            ("member.removed", 3001, 6),
            ("user.offboarded", 3001, 6),
            ("api_key.revoked", 3001, 6),
            ("api_key.created", 3001, 1),
            ("api_key.rotated", 3001, 99),
            ("user.password_changed", 3001, 3),
            ("user.password_reset_requested", 3001, 4),
            ("password.changed", 3001, 3),
            ("member.role_changed", 3001, 7),
            ("user.role_granted", 3001, 7),
            ("user.roles_updated", 3001, 7),
            ("member.role_removed", 3001, 8),
            ("user.role_revoked", 3001, 8),
            ("role.granted", 3001, 7),
            ("role.revoked", 3001, 8),
            ("role.created", 3001, 1),
            ("role.updated", 3001, 99),
            ("role.deleted", 3001, 6),
            ("user.mfa_enabled", 3001, 10),
            ("user.totp_added", 3001, 10),
            ("mfa.enabled", 3001, 10),
            ("user.mfa_disabled", 3001, 11),
            ("user.webauthn_removed", 3001, 11),
            ("mfa.reset", 3001, 99),
            ("user.locked", 3001, 9),
            ("account.enabled", 3001, 2),
            ("user.reactivated", 3001, 2),
            ("user.disabled", 3001, 5),
            ("user.suspended", 3001, 5),
            ("user.renamed", 3001, 99),
            ("account.updated", 3001, 99),
            // Reading an account is API Activity.
            ("user.viewed", 6003, 2),
            ("member.listed", 6003, 2),
            // API Activity by category.
            ("app.created", 6003, 1),
            ("report.viewed", 6003, 2),
            ("audit_log.exported", 6003, 2),
            ("app.updated", 6003, 3),
            ("app.plan_changed", 6003, 3),
            ("app.deleted", 6003, 4),
            ("billing.charged", 6003, 99),
            ("http.post", 6003, 99),
            // Enable verbs outside an account are plain updates.
            ("app.enabled", 6003, 3),
        ];
        for &(action, class, activity) in table {
            assert_eq!(
                class_and_activity(&event(action)),
                (class, activity),
                "{action} should be class {class}, activity {activity}"
            );
        }
    }

    #[test]
    fn an_account_target_makes_an_account_change() {
        let with = |target_type: &str| {
            Event::builder(crate::Action::new("org.updated").unwrap(), Actor::user("u1"))
                .target(Target::new(target_type, "t1"))
                .build()
        };
        assert_eq!(class_and_activity(&with("user")), (3001, 99));
        assert_eq!(class_and_activity(&with("API_KEY")), (3001, 99));
        assert_eq!(class_and_activity(&with("app")), (6003, 3));
        // Only the main target decides the class.
        let further = Event::builder(crate::Action::new("app.updated").unwrap(), Actor::user("u1"))
            .target(Target::new("app", "a1"))
            .add_target(Target::new("user", "u2"))
            .build();
        assert_eq!(class_and_activity(&further), (6003, 3));
    }

    #[test]
    fn a_category_set_by_the_code_decides_first() {
        let overridden = Event::builder(crate::Action::new("user.checked").unwrap(), Actor::user("u1"))
            .category(Category::Auth)
            .build();
        assert_eq!(class_and_activity(&overridden), (3002, 99));
        let read = Event::builder(crate::Action::new("user.exported").unwrap(), Actor::user("u1")).build();
        assert_eq!(class_and_activity(&read), (6003, 2));
    }

    #[test]
    fn type_uid_and_type_name_follow_class_and_activity() {
        for action in ["auth.logout", "member.role_changed", "app.deleted", "billing.charged"] {
            let record = ocsf(&event(action), &FormatOptions::default());
            let class = record["class_uid"].as_u64().unwrap();
            let activity = record["activity_id"].as_u64().unwrap();
            assert_eq!(record["type_uid"].as_u64().unwrap(), class * 100 + activity, "{action}");
            assert_eq!(
                record["type_name"],
                format!(
                    "{}: {}",
                    record["class_name"].as_str().unwrap(),
                    record["activity_name"].as_str().unwrap()
                ),
                "{action}"
            );
        }
    }

    #[test]
    fn severity_and_status_tables() {
        let cases = [
            (Severity::Info, Outcome::Success, 1, "Informational", 1, "Success"),
            (Severity::Notice, Outcome::Failure, 2, "Low", 2, "Failure"),
            (Severity::Warning, Outcome::Denied, 3, "Medium", 2, "Failure"),
            (Severity::Critical, Outcome::Success, 5, "Critical", 1, "Success"),
        ];
        for (severity, outcome, severity_id, severity_name, status_id, status) in cases {
            let event = Event::builder(crate::Action::new("app.deleted").unwrap(), Actor::user("u1"))
                .severity(severity)
                .outcome(outcome)
                .build();
            let record = ocsf(&event, &FormatOptions::default());
            assert_eq!(record["severity_id"], severity_id, "{severity}");
            assert_eq!(record["severity"], severity_name, "{severity}");
            assert_eq!(record["status_id"], status_id, "{outcome}");
            assert_eq!(record["status"], status, "{outcome}");
            assert_eq!(record["status_code"], outcome.as_str());
            assert_eq!(record["unmapped"]["severity"], severity.as_str());
        }
    }

    #[test]
    fn actor_kinds_map_to_user_types() {
        let cases = [
            (Actor::user("u"), 1, "User"),
            (Actor::system("cron"), 3, "System"),
            (Actor::api_key("key_1"), 99, "api_key"),
            (Actor::service("billing"), 99, "service"),
            (Actor::anonymous(), 99, "anonymous"),
        ];
        for (actor, type_id, type_name) in cases {
            let user = actor_user(&actor);
            assert_eq!(user["type_id"], type_id, "{:?}", actor.kind);
            assert_eq!(user["type"], type_name, "{:?}", actor.kind);
            assert_eq!(user["uid"], actor.id.as_str());
        }
    }

    #[test]
    fn is_mfa_only_from_a_boolean_metadata_value() {
        let with = |key: &str, value: Value| {
            let event = Event::builder(crate::Action::new("auth.login").unwrap(), Actor::user("u1"))
                .metadata(key, &value)
                .build();
            ocsf(&event, &FormatOptions::default()).get("is_mfa").cloned()
        };
        assert_eq!(with("mfa_verified", json!(true)), Some(json!(true)));
        assert_eq!(with("mfa", json!(false)), Some(json!(false)));
        assert_eq!(with("mfa", json!("yes")), None);
        assert_eq!(with("method", json!("totp")), None);
    }

    #[test]
    fn account_user_prefers_a_person_then_an_account_then_the_actor() {
        let base = || Event::builder(crate::Action::new("role.granted").unwrap(), Actor::user("admin"));
        let person = base()
            .target(Target::new("role", "role_admin"))
            .add_target(Target::new("user", "user_bob").with_name("Bob"))
            .build();
        assert_eq!(account_user(&person), json!({"uid": "user_bob", "name": "Bob"}));
        let role = base().target(Target::new("role", "role_admin")).build();
        assert_eq!(
            account_user(&role),
            json!({"uid": "role_admin", "type_id": 99, "type": "role"})
        );
        let own = base().build();
        assert_eq!(account_user(&own)["uid"], "admin");
    }
}
