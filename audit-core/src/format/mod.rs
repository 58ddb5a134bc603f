//! Events as the records security tools ingest: OCSF JSON, ArcSight CEF and
//! RFC 5424 syslog, for streaming the trail into a SIEM.
//!
//! [`EventFormat`] names a format and [`EventFormat::encode`] writes one
//! event as one record (no trailing newline: framing — NDJSON lines, syslog
//! octet counting, a message per datagram — is the transport's business).
//! [`ocsf()`], [`cef()`] and [`syslog()`] are the building blocks;
//! [`FormatOptions`] says which product reports the events and from which
//! host.
//!
//! ```
//! use audit_core::{Action, Actor, Event, format::{EventFormat, FormatOptions}};
//!
//! let event = Event::builder(Action::new("app.deleted")?, Actor::user("user_alice")).build();
//! let options = FormatOptions::default().with_hostname("api-1.example.com");
//! let format: EventFormat = "cef".parse().unwrap();
//! let record = format.encode(&event, &options);
//! assert!(record.starts_with("CEF:0|audit|audit-trail|"));
//! assert!(record.contains("|app.deleted|app.deleted|"));
//! # Ok::<(), audit_core::ActionError>(())
//! ```
//!
//! Every format is computed from the event alone: the same event and options
//! always give the same bytes. Absent optional values are left out (never
//! written as `null` or an empty field). Strings are escaped for each format,
//! and control characters an event could carry (only a deserialised event
//! can: built ones have them escaped already) are written as the visible text
//! `\u{…}`, as [`sanitize_str`](crate::sanitize_str) does, so no record can
//! span two lines.
//!
//! # Severity
//!
//! | event [`Severity`] | OCSF `severity_id` | CEF severity (0–10) | syslog severity |
//! |---|---|---|---|
//! | `info` | 1 Informational | 1 (Low) | 6 Informational |
//! | `notice` | 2 Low | 3 (Low) | 5 Notice |
//! | `warning` | 3 Medium | 6 (Medium) | 4 Warning |
//! | `critical` | 5 Critical | 9 (Very-High) | 2 Critical |
//!
//! # Outcome
//!
//! | event [`Outcome`](crate::Outcome) | OCSF `status_id` / `status` | CEF `outcome` |
//! |---|---|---|
//! | `success` | 1 Success | `success` |
//! | `failure` | 2 Failure | `failure` |
//! | `denied` | 2 Failure (`status_code` says `denied`) | `denied` |
//!
//! # OCSF (schema 1.1.0)
//!
//! [`ocsf()`] picks one of three classes:
//!
//! 1. **Authentication** (3002, category 3 Identity & Access Management) for
//!    events of [`Category::Auth`](crate::Category::Auth) (every `auth.*`
//!    action, logins and logouts) — except a password change or reset or an
//!    MFA enable/disable (`auth.password_changed`, `auth.mfa_enabled`), which
//!    is an Account Change. Activity: 1 Logon when a word of the action is
//!    `login`, `logon`, `signin` or `logged_in`/`signed_in`/`log_in`/`sign_in`;
//!    2 Logoff for the `out`/`off` forms; 99 Other otherwise (`auth.denied`).
//! 2. **API Activity** (6003, category 6 Application Activity) for events of
//!    [`Category::Access`](crate::Category::Access): reading an account does
//!    not change it.
//! 3. **Account Change** (3001, category 3) when the action's first segment,
//!    or the main target's type, is an account or identity: `user`, `member`,
//!    `account`, `identity`, `service_account`, `role`, `api_key`,
//!    `password`, `mfa`. Activity, first rule that matches (words are the
//!    action's segments split at `_`, the verb is the last word):
//!    - a word `mfa`, `totp`, `otp`, `webauthn`, `passkey` or `factor`, and
//!      the verb enables (`enabled`, `added`, `created`, `registered`,
//!      `activated`, `enrolled`) → 10 MFA Factor Enable; or disables
//!      (`disabled`, `removed`, `deleted`, `revoked`, `deactivated`,
//!      `unenrolled`) → 11 MFA Factor Disable;
//!    - a word `password` or `passphrase` → 4 Password Reset when a word is
//!      `reset`, else 3 Password Change;
//!    - a role word (`role`, `roles`, `permission(s)`, `policy`, `policies`,
//!      `privilege(s)`) in the last segment and the verb `granted`,
//!      `assigned`, `attached`, `added`, `changed`, `updated` or `set`
//!      (`member.role_changed`) → 7 Attach Policy; `revoked`, `removed`,
//!      `unassigned`, `detached` → 8 Detach Policy; the same for a first
//!      segment `role`/`policy`/`permission` with `granted`, `assigned`,
//!      `attached` → 7, `revoked`, `unassigned`, `detached` → 8;
//!    - the verb `locked` → 9 Lock;
//!    - `enabled`, `activated`, `reactivated`, `unsuspended`, `unblocked` → 2
//!      Enable; `disabled`, `deactivated`, `suspended`, `blocked` → 5 Disable;
//!    - category create → 1 Create, delete → 6 Delete; anything else 99 Other.
//! 4. **API Activity** for everything else. Activity from the category:
//!    create 1, access 2 Read, update 3, delete 4, other 99.
//!
//! The `user` of Authentication and Account Change is the first target (the
//! main one, then the others) whose type is a person's account (`user`,
//! `member`, `account`, `identity`, `service_account`), else the first whose
//! type is any account type above (`role`, `api_key`, … with `type_id` 99 and
//! the target type as `type`), else the actor (signing in, changing one's own
//! password).
//!
//! | OCSF field | event field |
//! |---|---|
//! | `class_uid`, `class_name`, `category_uid`, `category_name` | the class chosen above |
//! | `activity_id`, `activity_name` | the rules above |
//! | `type_uid`, `type_name` | `class_uid * 100 + activity_id`, `"<class>: <activity>"` |
//! | `time` | `occurred_at`, epoch milliseconds |
//! | `severity_id`, `severity` | `severity` (table above) |
//! | `status_id`, `status`, `status_code` | `outcome` (table above; `status_code` is the outcome's name) |
//! | `status_detail` | `reason` |
//! | `message` | `description` |
//! | `actor.user` `{uid, name, email_addr, type_id, type}` | `actor` `{id, name, email, kind}`: `user` → 1 User, `system` → 3 System, `api_key`, `service`, `anonymous` → 99 with the kind as `type` |
//! | `user` (Authentication, Account Change) | the account, see above |
//! | `resources` `[{uid, type, name}]` (API Activity) | `target`, then `targets` |
//! | `api` `{operation, request.uid, response.code}` | `action`, `context.request_id`, `context.status` |
//! | `src_endpoint.ip` | `context.client_ip` |
//! | `http_request` `{http_method, user_agent, url.path}` | `context.method`, `context.user_agent`, `context.route` |
//! | `is_mfa` (Authentication) | a boolean metadata value `mfa`, `is_mfa`, `mfa_used` or `mfa_verified` |
//! | `metadata.version` | [`OCSF_VERSION`] |
//! | `metadata.product` `{name, vendor_name, version}` | [`FormatOptions`] |
//! | `metadata.uid` | `id` |
//! | `metadata.correlation_uid` | `context.request_id` |
//! | `metadata.tenant_uid` | `tenant_id` |
//! | `metadata.log_name`, `metadata.sequence` | `integrity.stream`, `integrity.seq` |
//! | `metadata.original_time` | `occurred_at`, RFC 3339 |
//! | `metadata.logged_time` | `recorded_at`, epoch milliseconds |
//! | `unmapped` | `category`, `severity` (the event's names), `actor.roles` as `actor_roles`, `targets` (classes without `resources`), `context.client_request_id`, `peer_ip`, `ip_source`, `trace_id`, `span_id`, `integrity.leaf_hash` as `leaf_hash`, `changes`, `metadata`, and `truncated`/`lossy_utf8` when true |
//!
//! # CEF (version 0)
//!
//! `CEF:0|vendor|product|version|<action>|<description, else the action>|<severity>|<extension>`.
//! In the header `\` and `|` are escaped with a backslash; in extension values
//! `\` and `=` are, and line breaks are written `\n` and `\r`, as the CEF
//! specification says. Extension keys, always in this order, each only when
//! its value is present:
//!
//! | CEF key | event field |
//! |---|---|
//! | `rt` | `occurred_at`, epoch milliseconds |
//! | `externalId` | `id` |
//! | `cat` | `category` |
//! | `outcome` | `outcome` (`success`, `failure`, `denied`) |
//! | `reason` | `reason` |
//! | `suser`, `suid` | `actor.name`, `actor.id` |
//! | `spriv` | `actor.roles`, comma-separated |
//! | `duser`, `duid` | name and id of the first target whose type is `user`, `member`, `account`, `identity` or `service_account` |
//! | `src` | `context.client_ip` |
//! | `requestMethod`, `request`, `requestClientApplication` | `context.method`, `context.route`, `context.user_agent` |
//! | `dvchost` | [`FormatOptions::hostname`] unless `-` |
//! | `cs1Label=tenant` `cs1` | `tenant_id` |
//! | `cs2Label=request_id` `cs2` | `context.request_id` |
//! | `cs3Label=target` `cs3` | the main target as `type:id` |
//! | `cs4Label=actor_kind` `cs4` | `actor.kind` |
//! | `cs5Label=trace_id` `cs5` | `context.trace_id` |
//! | `cs6Label=leaf_hash` `cs6` | `integrity.leaf_hash` |
//! | `cn1Label=seq` `cn1` | `integrity.seq` |
//! | `cn2Label=http_status` `cn2` | `context.status` |
//!
//! # Syslog (RFC 5424)
//!
//! `<PRI>1 TIMESTAMP HOSTNAME APP-NAME - MSGID [SD] BOM MSG`:
//!
//! | syslog part | event field |
//! |---|---|
//! | `PRI` | facility 13 (log audit) × 8 + the severity above |
//! | `TIMESTAMP` | `occurred_at`, RFC 3339 with microseconds and `Z` (`-` for a time RFC 5424 cannot write: a year past 9999, a leap second) |
//! | `HOSTNAME`, `APP-NAME` | [`FormatOptions`]; characters outside printable ASCII become `_`, cut to 255 and 48 characters |
//! | `PROCID` | `-` |
//! | `MSGID` | `action`, cut to 32 characters |
//! | `SD` | one element `[audit@32473 …]` ([`FormatOptions::sd_id`]) with `id`, `action`, `category`, `severity`, `outcome`, `tenant`, `actor`, `actor_kind`, `target` (`type:id`), `client_ip`, `request_id`, `trace_id`, `stream`, `seq`, each when present; `"`, `\` and `]` escaped with a backslash |
//! | `MSG` | a UTF-8 byte order mark, then the event's native JSON |
//!
//! Facility 13 is "log audit", the facility meant for audit records (10,
//! authpriv, is for authentication messages of the operating system). The
//! SD-ID `audit@32473` uses 32473, the private enterprise number reserved
//! for documentation (RFC 5612): set your own organisation's number with
//! [`FormatOptions::with_sd_id`]. The MSG is the whole event as JSON so
//! nothing is lost that the header and structured data leave out (changes,
//! metadata, every target); the byte order mark is how RFC 5424 marks a MSG
//! as UTF-8, so collectors do not guess its encoding.

mod cef;
mod ocsf;
mod syslog;

use std::fmt::{self, Write as _};
use std::str::FromStr;

pub use cef::cef;
pub use ocsf::{OCSF_VERSION, ocsf};
pub use syslog::{SYSLOG_FACILITY, syslog};

use crate::event::{Event, Severity, Target};

/// A way of writing an event for a log pipeline or SIEM.
///
/// ```
/// use audit_core::format::EventFormat;
///
/// let format: EventFormat = "ocsf".parse().unwrap();
/// assert_eq!(format, EventFormat::Ocsf);
/// assert_eq!("json".parse::<EventFormat>().unwrap(), EventFormat::Native);
/// let err = "xml".parse::<EventFormat>().unwrap_err();
/// assert_eq!(err.expected(), ["native", "json", "ocsf", "cef", "syslog"]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFormat {
    /// The event's own JSON, the shape the API and exports use (`native`, or `json`).
    Native,
    /// Open Cybersecurity Schema Framework JSON, schema [`OCSF_VERSION`].
    Ocsf,
    /// ArcSight Common Event Format, version 0.
    Cef,
    /// An RFC 5424 syslog message with the event as JSON in its MSG.
    Syslog,
}

impl EventFormat {
    /// Every format, in declaration order.
    ///
    /// ```
    /// use audit_core::format::EventFormat;
    /// assert!(EventFormat::ALL.iter().all(|f| f.as_str().parse::<EventFormat>() == Ok(*f)));
    /// ```
    pub const ALL: [Self; 4] = [Self::Native, Self::Ocsf, Self::Cef, Self::Syslog];

    /// The format's name, as [`FromStr`] accepts it.
    ///
    /// ```
    /// assert_eq!(audit_core::format::EventFormat::Syslog.as_str(), "syslog");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Native => "native",
            Self::Ocsf => "ocsf",
            Self::Cef => "cef",
            Self::Syslog => "syslog",
        }
    }

    /// Whether a record is one JSON document (so a stream of them is NDJSON).
    ///
    /// ```
    /// use audit_core::format::EventFormat;
    /// assert!(EventFormat::Ocsf.is_json());
    /// assert!(!EventFormat::Cef.is_json());
    /// ```
    pub fn is_json(self) -> bool {
        matches!(self, Self::Native | Self::Ocsf)
    }

    /// The media type of one record: `application/json` for the JSON formats
    /// (a stream of them is the caller's to label, e.g.
    /// `application/x-ndjson`), `text/plain; charset=utf-8` for CEF and syslog.
    ///
    /// ```
    /// use audit_core::format::EventFormat;
    /// assert_eq!(EventFormat::Native.content_type(), "application/json");
    /// assert_eq!(EventFormat::Syslog.content_type(), "text/plain; charset=utf-8");
    /// ```
    pub fn content_type(self) -> &'static str {
        if self.is_json() {
            "application/json"
        } else {
            "text/plain; charset=utf-8"
        }
    }

    /// Writes `event` as one record of this format, without a trailing newline.
    ///
    /// ```
    /// use audit_core::{Action, Actor, Event, format::{EventFormat, FormatOptions}};
    ///
    /// let event = Event::builder(Action::new("app.created")?, Actor::user("u1")).build();
    /// let options = FormatOptions::default();
    /// let native = EventFormat::Native.encode(&event, &options);
    /// assert_eq!(native, serde_json::to_string(&event).unwrap());
    /// let ocsf: serde_json::Value = serde_json::from_str(&EventFormat::Ocsf.encode(&event, &options)).unwrap();
    /// assert_eq!(ocsf["class_uid"], 6003);
    /// for format in EventFormat::ALL {
    ///     assert!(!format.encode(&event, &options).contains('\n'));
    /// }
    /// # Ok::<(), audit_core::ActionError>(())
    /// ```
    pub fn encode(self, event: &Event, options: &FormatOptions) -> String {
        match self {
            Self::Native => native_json(event),
            Self::Ocsf => ocsf(event, options).to_string(),
            Self::Cef => cef(event, options),
            Self::Syslog => syslog(event, options),
        }
    }
}

impl fmt::Display for EventFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for EventFormat {
    type Err = crate::ParseEnumError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "native" | "json" => Ok(Self::Native),
            "ocsf" => Ok(Self::Ocsf),
            "cef" => Ok(Self::Cef),
            "syslog" => Ok(Self::Syslog),
            _ => Err(crate::ParseEnumError {
                what: "EventFormat",
                found: s.into(),
                expected: &["native", "json", "ocsf", "cef", "syslog"],
            }),
        }
    }
}

/// Who reports the events, for the formats that say so: OCSF's
/// `metadata.product`, CEF's header, syslog's HOSTNAME, APP-NAME and SD-ID.
///
/// ```
/// use audit_core::format::FormatOptions;
///
/// let options = FormatOptions::default()
///     .with_vendor("Acme")
///     .with_product("Billing")
///     .with_version("2.4.1")
///     .with_hostname("billing-1.acme.test")
///     .with_app_name("billing")
///     .with_sd_id("audit@99999");
/// assert_eq!(options.product_vendor, "Acme");
/// assert_eq!(options.sd_id, "audit@99999");
/// assert_eq!(FormatOptions::default().hostname, "-");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FormatOptions {
    /// The vendor: OCSF `metadata.product.vendor_name`, CEF Device Vendor. Default `audit`.
    pub product_vendor: String,
    /// The product: OCSF `metadata.product.name`, CEF Device Product. Default `audit-trail`.
    pub product_name: String,
    /// Its version: OCSF `metadata.product.version`, CEF Device Version.
    /// Default this crate's version.
    pub product_version: String,
    /// The host the records come from: syslog HOSTNAME, CEF `dvchost`.
    /// Default `-`, the syslog nil value (no `dvchost`).
    pub hostname: String,
    /// The application: syslog APP-NAME. Default `audit`.
    pub app_name: String,
    /// The syslog structured data element's SD-ID, `name@<private
    /// enterprise number>`. Default `audit@32473`: 32473 is the number
    /// reserved for documentation (RFC 5612); use your organisation's own.
    pub sd_id: String,
}

impl Default for FormatOptions {
    fn default() -> Self {
        Self {
            product_vendor: "audit".into(),
            product_name: "audit-trail".into(),
            product_version: env!("CARGO_PKG_VERSION").into(),
            hostname: "-".into(),
            app_name: "audit".into(),
            sd_id: "audit@32473".into(),
        }
    }
}

impl FormatOptions {
    /// Sets [`product_vendor`](Self::product_vendor).
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_vendor("Acme").product_vendor, "Acme");
    /// ```
    #[must_use]
    pub fn with_vendor(mut self, vendor: impl Into<String>) -> Self {
        self.product_vendor = vendor.into();
        self
    }

    /// Sets [`product_name`](Self::product_name).
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_product("Billing").product_name, "Billing");
    /// ```
    #[must_use]
    pub fn with_product(mut self, product: impl Into<String>) -> Self {
        self.product_name = product.into();
        self
    }

    /// Sets [`product_version`](Self::product_version).
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_version("2.0").product_version, "2.0");
    /// ```
    #[must_use]
    pub fn with_version(mut self, version: impl Into<String>) -> Self {
        self.product_version = version.into();
        self
    }

    /// Sets [`hostname`](Self::hostname).
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_hostname("h1").hostname, "h1");
    /// ```
    #[must_use]
    pub fn with_hostname(mut self, hostname: impl Into<String>) -> Self {
        self.hostname = hostname.into();
        self
    }

    /// Sets [`app_name`](Self::app_name).
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_app_name("billing").app_name, "billing");
    /// ```
    #[must_use]
    pub fn with_app_name(mut self, app_name: impl Into<String>) -> Self {
        self.app_name = app_name.into();
        self
    }

    /// Sets [`sd_id`](Self::sd_id), e.g. `audit@<your enterprise number>`.
    ///
    /// ```
    /// assert_eq!(audit_core::format::FormatOptions::default().with_sd_id("audit@1").sd_id, "audit@1");
    /// ```
    #[must_use]
    pub fn with_sd_id(mut self, sd_id: impl Into<String>) -> Self {
        self.sd_id = sd_id.into();
        self
    }
}

/// The event's own JSON (the `Native` format and the syslog MSG).
fn native_json(event: &Event) -> String {
    // An event is plain data (strings, numbers, maps with string keys):
    // serialising it cannot fail.
    serde_json::to_string(event).unwrap_or_default()
}

/// Epoch milliseconds of a timestamp (floor, so instants before 1970 stay ordered).
fn epoch_millis(at: crate::Timestamp) -> i64 {
    at.unix_micros().div_euclid(1000)
}

/// The target types that are a person's (or a service's) account.
const PERSON_TYPES: &[&str] = &["user", "member", "account", "identity", "service_account"];

/// Whether a target's type is one of `types` (ASCII case-insensitive).
fn is_type(target: &Target, types: &[&str]) -> bool {
    types.iter().any(|t| target.target_type.eq_ignore_ascii_case(t))
}

/// The main target, then the others.
fn all_targets(event: &Event) -> impl Iterator<Item = &Target> {
    event.target().into_iter().chain(event.targets())
}

/// The first target that is a person's account (CEF `duser`, OCSF `user`).
fn person_target(event: &Event) -> Option<&Target> {
    all_targets(event).find(|target| is_type(target, PERSON_TYPES))
}

/// `type:id` of a target.
fn target_ref(target: &Target) -> String {
    format!("{}:{}", target.target_type, target.id)
}

/// `text` with every control character written as the visible `\u{…}`
/// (as the builder's sanitising does), except those `keep` accepts.
fn visible_controls(text: &str, keep: impl Fn(char) -> bool) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(|c| c.is_control() && !keep(c)) {
        return std::borrow::Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() && !keep(c) {
            // Writing to a String cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// The severity tables of the module docs, one row per event severity:
/// (OCSF id, OCSF caption, CEF 0–10, syslog severity).
fn severity_row(severity: Severity) -> (u8, &'static str, u8, u8) {
    match severity {
        Severity::Info => (1, "Informational", 1, 6),
        Severity::Notice => (2, "Low", 3, 5),
        Severity::Warning => (3, "Medium", 6, 4),
        Severity::Critical => (5, "Critical", 9, 2),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_format_parses_from_its_name_and_json_means_native() {
        for format in EventFormat::ALL {
            assert_eq!(format.as_str().parse::<EventFormat>(), Ok(format));
            assert_eq!(format.to_string(), format.as_str());
        }
        assert_eq!("json".parse::<EventFormat>(), Ok(EventFormat::Native));
        for bad in ["", "OCSF", "leef", "json ", "cef0"] {
            let err = bad.parse::<EventFormat>().unwrap_err();
            let message = err.to_string();
            assert!(message.contains("native, json, ocsf, cef, syslog"), "{message}");
            assert!(message.contains(&format!("`{bad}`")), "{message}");
        }
    }

    #[test]
    fn content_types_follow_is_json() {
        assert_eq!(
            EventFormat::ALL.map(EventFormat::content_type),
            [
                "application/json",
                "application/json",
                "text/plain; charset=utf-8",
                "text/plain; charset=utf-8"
            ]
        );
    }

    #[test]
    fn severity_table() {
        let rows = [Severity::Info, Severity::Notice, Severity::Warning, Severity::Critical].map(severity_row);
        assert_eq!(
            rows,
            [
                (1, "Informational", 1, 6),
                (2, "Low", 3, 5),
                (3, "Medium", 6, 4),
                (5, "Critical", 9, 2)
            ]
        );
        // Higher event severity is higher in OCSF and CEF, lower in syslog.
        for pair in rows.windows(2) {
            assert!(pair[0].0 < pair[1].0 && pair[0].2 < pair[1].2 && pair[0].3 > pair[1].3);
        }
    }

    #[test]
    fn controls_become_visible_text() {
        assert_eq!(visible_controls("a\u{1b}b\u{7f}", |_| false), "a\\u{1b}b\\u{7f}");
        assert_eq!(visible_controls("a\nb\tc", |c| c == '\n'), "a\nb\\u{9}c");
        assert!(matches!(
            visible_controls("plain é", |_| false),
            std::borrow::Cow::Borrowed(_)
        ));
    }

    #[test]
    fn epoch_millis_floors() {
        let at = crate::Timestamp::from_unix_micros(-1).unwrap();
        assert_eq!(epoch_millis(at), -1);
        let at = crate::Timestamp::from_unix_micros(1_999).unwrap();
        assert_eq!(epoch_millis(at), 1);
    }
}
