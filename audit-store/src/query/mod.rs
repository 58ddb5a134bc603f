//! The read side: [`AuditQuery`], one description of "which events" for the
//! JSON API, the CLI, export and the web page, and what a store answers.

mod cursor;
mod error;
mod params;
pub(crate) mod sql;
pub(crate) mod text;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use audit_core::{Action, ActorKind, Category, Event, Outcome, Severity, Timestamp};
use chrono::{DateTime, Datelike as _, NaiveDate, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

pub(crate) use cursor::{CursorKey, KEY_NAME as CURSOR_KEY_NAME, Position};
pub use error::QueryError;
pub use params::{QUERY_PARAMETERS, QueryParameter, ValueFormat};

/// The page size when none is given.
pub const DEFAULT_LIMIT: u32 = 50;
/// The largest page size.
pub const MAX_LIMIT: u32 = 200;
/// The deepest `offset`; deeper pages are reached with the cursor, whose cost
/// does not grow with depth.
pub const MAX_OFFSET: u32 = 100_000;
/// The most characters a text filter (ids, email, request id, tenant) may have.
pub const MAX_VALUE_CHARS: usize = 1024;

/// Which events to list, newest first, and which page of them.
///
/// Every filter narrows the result (filters combine with AND); a filter that
/// takes several values (`action`, `category`, `actor_kind`, `severity`,
/// `outcome`) matches any of them. Results are ordered by `occurred_at`, then
/// event id, newest first. Pages are reached with the opaque cursor a page
/// returns ([`Page::next_cursor`]), or with an `offset` for simple clients.
///
/// Build it in code, or from query-string pairs with
/// [`from_params`](Self::from_params), which names the parameter at fault in
/// its errors. Values are checked when the query runs; everything reaches the
/// database as a bound parameter, never as SQL.
///
/// | parameter | meaning |
/// |---|---|
/// | `tenant_id` | the tenant's events only (absent: every tenant) |
/// | `action` | an exact action (`member.invited`) or every action under a prefix (`billing.*`); repeat or comma-separate for several |
/// | `not_action` | leave out these actions (same forms as `action`), e.g. `audit_log.*` for the log's own reads |
/// | `category` | `create`, `update`, `delete`, `access`, `auth`, `other` |
/// | `actor_id`, `actor_email` | the actor's id, or email (exact, case-sensitive) |
/// | `actor_kind` | `user`, `api_key`, `service`, `system`, `anonymous` |
/// | `target_type`, `target_id` | the primary target |
/// | `severity` | `info`, `notice`, `warning`, `critical` |
/// | `outcome` | `success`, `failure`, `denied` |
/// | `since`, `until` | `occurred_at` from `since` (inclusive) to `until` (exclusive): RFC 3339 (`2026-11-01T09:30:00Z`) or a date (`2026-11-01`, midnight UTC) |
/// | `ip` | the client IP (IPv4-mapped IPv6 matches its IPv4 form) |
/// | `request_id` | the request id |
/// | `q` | free text: every word (or `"quoted phrase"`) must occur, case-insensitively, in the description or an actor or target id, email, name or type |
/// | `limit` | page size, 1 to 200 (default 50) |
/// | `cursor` | the `next_cursor` of the previous page |
/// | `offset` | events to skip, at most 100,000 (not with `cursor`) |
///
/// ```
/// use audit_core::{Outcome, Timestamp};
/// use audit_store::{ActionFilter, AuditQuery};
///
/// let query = AuditQuery::new()
///     .tenant("acme")
///     .action(ActionFilter::prefix("billing")?)
///     .outcome(Outcome::Denied)
///     .text("refund")
///     .limit(20);
/// let same = AuditQuery::from_params([
///     ("tenant_id", "acme"),
///     ("action", "billing.*"),
///     ("outcome", "denied"),
///     ("q", "refund"),
///     ("limit", "20"),
/// ])?;
/// assert_eq!(query, same);
/// assert_eq!(same.to_params()[1], ("action", "billing.*".to_owned()));
/// # Ok::<(), audit_store::QueryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    filter: Filter,
    default_since: Option<Timestamp>,
    limit: u32,
    cursor: Option<String>,
    offset: Option<u32>,
}

/// The filters of a query: everything but the page.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    pub(crate) tenant: Option<String>,
    pub(crate) actions: Vec<ActionFilter>,
    pub(crate) excluded_actions: Vec<ActionFilter>,
    pub(crate) categories: Vec<Category>,
    pub(crate) actor_id: Option<String>,
    pub(crate) actor_kinds: Vec<ActorKind>,
    pub(crate) actor_email: Option<String>,
    pub(crate) target_type: Option<String>,
    pub(crate) target_id: Option<String>,
    pub(crate) severities: Vec<Severity>,
    pub(crate) outcomes: Vec<Outcome>,
    pub(crate) since: Option<Timestamp>,
    pub(crate) until: Option<Timestamp>,
    pub(crate) client_ip: Option<IpAddr>,
    pub(crate) request_id: Option<String>,
    pub(crate) text: Option<String>,
}

/// Which actions an [`AuditQuery`] matches: one exactly, or all under a prefix.
///
/// ```
/// use audit_store::ActionFilter;
///
/// let prefix: ActionFilter = "billing.*".parse()?;
/// assert!(prefix.matches("billing.invoice.paid"));
/// assert!(!prefix.matches("billing"));
/// assert!(!prefix.matches("billingx.paid"));
/// let exact: ActionFilter = "member.invited".parse()?;
/// assert!(exact.matches("member.invited") && !exact.matches("member.invited.again"));
/// assert!("Billing.*".parse::<ActionFilter>().is_err());
/// # Ok::<(), audit_store::QueryError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ActionFilter {
    /// Exactly this action.
    Exact(Action),
    /// Every action starting with this prefix and a dot: `billing` matches
    /// `billing.invoice.paid` but not `billing` or `billingx.paid`. Written
    /// `billing.*`.
    Prefix(String),
}

impl ActionFilter {
    /// Every action under `prefix` (one or more dotted segments, without the
    /// trailing `.*`).
    ///
    /// # Errors
    /// When `prefix` is not made of valid action segments.
    pub fn prefix(prefix: &str) -> Result<Self, QueryError> {
        let valid = !prefix.is_empty()
            && prefix.len() < audit_core::MAX_ACTION_LEN
            && prefix.split('.').all(|segment| {
                let mut chars = segment.chars();
                chars.next().is_some_and(|c| c.is_ascii_lowercase())
                    && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            });
        if valid {
            Ok(Self::Prefix(prefix.to_owned()))
        } else {
            Err(QueryError::new(
                "action",
                format!(
                    "`{}.*` is not a valid prefix: segments start with a-z and continue with a-z, 0-9 or _",
                    prefix.escape_debug()
                ),
            ))
        }
    }

    /// Whether `action` is one this filter matches.
    pub fn matches(&self, action: &str) -> bool {
        match self {
            Self::Exact(exact) => exact.as_str() == action,
            Self::Prefix(prefix) => action
                .strip_prefix(prefix.as_str())
                .is_some_and(|rest| rest.starts_with('.')),
        }
    }
}

impl From<Action> for ActionFilter {
    fn from(action: Action) -> Self {
        Self::Exact(action)
    }
}

impl FromStr for ActionFilter {
    type Err = QueryError;

    /// `billing.*` is a prefix; anything else must be a valid action.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_suffix(".*") {
            Some(prefix) => Self::prefix(prefix),
            None => Action::new(s)
                .map(Self::Exact)
                .map_err(|e| QueryError::new("action", format!("is not an action or a `prefix.*`: {e}"))),
        }
    }
}

impl fmt::Display for ActionFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(action) => f.write_str(action.as_str()),
            Self::Prefix(prefix) => write!(f, "{prefix}.*"),
        }
    }
}

impl Default for AuditQuery {
    fn default() -> Self {
        Self {
            filter: Filter::default(),
            default_since: None,
            limit: DEFAULT_LIMIT,
            cursor: None,
            offset: None,
        }
    }
}

impl AuditQuery {
    /// Whether the query's action-level filters (categories, excluded
    /// actions) admit `action` of `category`: which declared actions with
    /// no events `GET /actions` lists beside the counted ones.
    pub(crate) fn admits_action(&self, action: &str, category: Category) -> bool {
        (self.filter.categories.is_empty() || self.filter.categories.contains(&category))
            && !self
                .filter
                .excluded_actions
                .iter()
                .any(|excluded| excluded.matches(action))
    }

    /// Every event, newest first, 50 per page.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only `tenant`'s events.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.filter.tenant = Some(tenant.into());
        self
    }

    /// Also match these actions (exact, or `prefix.*`).
    pub fn action(mut self, action: impl Into<ActionFilter>) -> Self {
        let action = action.into();
        if !self.filter.actions.contains(&action) {
            self.filter.actions.push(action);
        }
        self
    }

    /// Leave out these actions (exact, or `prefix.*`), whatever else matches:
    /// `not_action(ActionFilter::prefix("audit_log")?)` hides the log's own
    /// reads.
    pub fn not_action(mut self, action: impl Into<ActionFilter>) -> Self {
        push_unique(&mut self.filter.excluded_actions, action.into());
        self
    }

    /// Also match this category.
    pub fn category(mut self, category: Category) -> Self {
        push_unique(&mut self.filter.categories, category);
        self
    }

    /// Only events by this actor id.
    pub fn actor_id(mut self, id: impl Into<String>) -> Self {
        self.filter.actor_id = Some(id.into());
        self
    }

    /// Also match this kind of actor.
    pub fn actor_kind(mut self, kind: ActorKind) -> Self {
        push_unique(&mut self.filter.actor_kinds, kind);
        self
    }

    /// Only events by an actor with this email (exact).
    pub fn actor_email(mut self, email: impl Into<String>) -> Self {
        self.filter.actor_email = Some(email.into());
        self
    }

    /// Only events whose primary target has this type.
    pub fn target_type(mut self, target_type: impl Into<String>) -> Self {
        self.filter.target_type = Some(target_type.into());
        self
    }

    /// Only events whose primary target has this id.
    pub fn target_id(mut self, id: impl Into<String>) -> Self {
        self.filter.target_id = Some(id.into());
        self
    }

    /// Also match this severity.
    pub fn severity(mut self, severity: Severity) -> Self {
        push_unique(&mut self.filter.severities, severity);
        self
    }

    /// Also match this outcome.
    pub fn outcome(mut self, outcome: Outcome) -> Self {
        push_unique(&mut self.filter.outcomes, outcome);
        self
    }

    /// Only events that occurred at or after `at`.
    pub fn since(mut self, at: Timestamp) -> Self {
        self.filter.since = Some(at);
        self
    }

    /// Only events that occurred before `at`.
    pub fn until(mut self, at: Timestamp) -> Self {
        self.filter.until = Some(at);
        self
    }

    /// A lower time bound for when the query names no time range (neither
    /// `since` nor `until`): the HTTP API's "last 30 days" default. Unlike
    /// [`since`](Self::since) it is not part of what a cursor is bound to, so
    /// the next page's request, made a little later with a slightly later
    /// default, still accepts the cursor.
    pub fn default_since(mut self, at: Timestamp) -> Self {
        self.default_since = Some(at);
        self
    }

    /// Only events from this client IP.
    pub fn client_ip(mut self, ip: IpAddr) -> Self {
        self.filter.client_ip = Some(ip.to_canonical());
        self
    }

    /// Only events of this request.
    pub fn request_id(mut self, id: impl Into<String>) -> Self {
        self.filter.request_id = Some(id.into());
        self
    }

    /// Free text: every word or `"quoted phrase"` must occur (see the table above).
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.filter.text = Some(text.into());
        self
    }

    /// The page size: 1 to [`MAX_LIMIT`]; anything else is refused when the query runs.
    pub fn limit(mut self, limit: u32) -> Self {
        self.limit = limit;
        self
    }

    /// Continue after the page that returned this [`Page::next_cursor`].
    pub fn cursor(mut self, cursor: impl Into<String>) -> Self {
        self.cursor = Some(cursor.into());
        self
    }

    /// Skip this many events (at most [`MAX_OFFSET`]; not with a cursor).
    pub fn offset(mut self, offset: u32) -> Self {
        self.offset = Some(offset);
        self
    }

    /// The tenant filter, if any.
    pub fn tenant_id(&self) -> Option<&str> {
        self.filter.tenant.as_deref()
    }

    /// The `since` bound the query names, if any (not the default window).
    pub(crate) fn since_bound(&self) -> Option<Timestamp> {
        self.filter.since
    }

    /// The page size.
    pub fn page_limit(&self) -> u32 {
        self.limit
    }

    /// Parses query-string pairs (names in the table above); a parameter that
    /// may take several values can be repeated or comma-separated. Values are
    /// trimmed; an empty one is refused (leave the parameter out to match
    /// any), so `outcome=` is never silently read as "every outcome".
    ///
    /// # Errors
    /// A [`QueryError`] naming the first parameter that is unknown, given
    /// twice, or has a value that cannot be parsed or is out of range.
    pub fn from_params<'a>(params: impl IntoIterator<Item = (&'a str, &'a str)>) -> Result<Self, QueryError> {
        let mut query = Self::new();
        let mut seen: Vec<&str> = Vec::new();
        for (name, value) in params {
            let value = value.trim();
            if value.is_empty() && params::names().any(|known| known == name) {
                return Err(QueryError::new(
                    name.to_owned(),
                    "is empty: give a value, or leave the parameter out to match any",
                ));
            }
            let repeatable = QUERY_PARAMETERS.iter().any(|p| p.name == name && p.repeatable);
            if !repeatable && seen.contains(&name) {
                return Err(QueryError::new(name.to_owned(), "is given more than once"));
            }
            seen.push(name);
            query = query.apply(name, value, repeatable)?;
        }
        query.check()?;
        Ok(query)
    }

    /// Applies one parameter. Only a `repeatable` one is a comma-separated
    /// list: any other value (a tenant id, a search) may hold commas.
    fn apply(mut self, name: &str, value: &str, repeatable: bool) -> Result<Self, QueryError> {
        let listed: Vec<&str> = value.split(',').map(str::trim).collect();
        if repeatable && listed.len() > 1 && listed.contains(&"") {
            return Err(QueryError::new(name.to_owned(), "has an empty item between its commas"));
        }
        let values = || listed.iter().copied();
        match name {
            "tenant_id" => self.filter.tenant = Some(value.to_owned()),
            "action" => {
                for action in values() {
                    self = self.action(action.parse::<ActionFilter>()?);
                }
            }
            "not_action" => {
                for action in values() {
                    let action = action
                        .parse::<ActionFilter>()
                        .map_err(|e| QueryError::new("not_action", e.message().to_owned()))?;
                    self = self.not_action(action);
                }
            }
            "category" => {
                for category in values() {
                    self = self.category(parse_enum("category", category)?);
                }
            }
            "actor_id" => self.filter.actor_id = Some(value.to_owned()),
            "actor_kind" => {
                for kind in values() {
                    self = self.actor_kind(parse_enum("actor_kind", kind)?);
                }
            }
            "actor_email" => self.filter.actor_email = Some(value.to_owned()),
            "target_type" => self.filter.target_type = Some(value.to_owned()),
            "target_id" => self.filter.target_id = Some(value.to_owned()),
            "severity" => {
                for severity in values() {
                    self = self.severity(parse_enum("severity", severity)?);
                }
            }
            "outcome" => {
                for outcome in values() {
                    self = self.outcome(parse_enum("outcome", outcome)?);
                }
            }
            "since" => self.filter.since = Some(parse_time("since", value)?),
            "until" => self.filter.until = Some(parse_time("until", value)?),
            "ip" => {
                let ip = value.parse::<IpAddr>().map_err(|_| {
                    QueryError::new(
                        "ip",
                        format!("`{}` is not an IPv4 or IPv6 address", value.escape_debug()),
                    )
                })?;
                self = self.client_ip(ip);
            }
            "request_id" => self.filter.request_id = Some(value.to_owned()),
            "q" => self.filter.text = Some(value.to_owned()),
            "limit" => self.limit = parse_number("limit", value)?,
            "cursor" => self.cursor = Some(value.to_owned()),
            "offset" => self.offset = Some(parse_number("offset", value)?),
            other => {
                return Err(QueryError::new(
                    other.to_owned(),
                    format!(
                        "is not a known parameter; expected one of {}",
                        params::names().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// The query as query-string pairs, in a fixed order, such that
    /// [`from_params`](Self::from_params) gives it back. For building links
    /// (the next page: replace `cursor`).
    pub fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut params = self.filter.to_params();
        if self.limit != DEFAULT_LIMIT {
            params.push(("limit", self.limit.to_string()));
        }
        params.extend(self.cursor.clone().map(|c| ("cursor", c)));
        params.extend(self.offset.map(|o| ("offset", o.to_string())));
        params
    }

    /// Checks everything that can be checked without the store.
    fn check(&self) -> Result<Vec<String>, QueryError> {
        if !(1..=MAX_LIMIT).contains(&self.limit) {
            return Err(QueryError::new(
                "limit",
                format!("must be between 1 and {MAX_LIMIT}, got {}", self.limit),
            ));
        }
        if let Some(offset) = self.offset {
            if offset > MAX_OFFSET {
                return Err(QueryError::new(
                    "offset",
                    format!("must be at most {MAX_OFFSET}, got {offset}; page deeper with `cursor`"),
                ));
            }
            if self.cursor.is_some() {
                return Err(QueryError::new("offset", "cannot be combined with `cursor`"));
            }
        }
        let f = &self.filter;
        let values = [
            ("tenant_id", &f.tenant),
            ("actor_id", &f.actor_id),
            ("actor_email", &f.actor_email),
            ("target_type", &f.target_type),
            ("target_id", &f.target_id),
            ("request_id", &f.request_id),
        ];
        for (name, value) in values.into_iter().chain([("q", &f.text)]) {
            let Some(value) = value else { continue };
            if name != "q" && value.chars().count() > MAX_VALUE_CHARS {
                return Err(QueryError::new(
                    name,
                    format!("is longer than {MAX_VALUE_CHARS} characters"),
                ));
            }
            // Recorded strings have their control characters escaped, so a
            // value holding one can match nothing (and PostgreSQL cannot
            // even compare a NUL).
            if let Some(c) = value.chars().find(|c| c.is_control()) {
                return Err(QueryError::new(
                    name,
                    format!(
                        "contains the control character {}; recorded values never do (they are escaped)",
                        c.escape_unicode()
                    ),
                ));
            }
        }
        if let (Some(since), Some(until)) = (f.since, f.until)
            && since >= until
        {
            return Err(QueryError::new("until", "must be later than `since`"));
        }
        text::terms(f.text.as_deref().unwrap_or(""))
    }

    /// Validates the query and works out what the SQL needs.
    pub(crate) fn plan(&self, key: &CursorKey) -> Result<Plan, QueryError> {
        let terms = self.check()?;
        let fingerprint = self.filter.fingerprint();
        let after = self.cursor.as_deref().map(|c| key.open(c, &fingerprint)).transpose()?;
        let mut filter = self.filter.clone();
        if filter.since.is_none() && filter.until.is_none() {
            filter.since = self.default_since;
        }
        Ok(Plan {
            filter,
            terms,
            after,
            limit: self.limit,
            offset: self.offset.unwrap_or(0),
            fingerprint,
        })
    }
}

impl Filter {
    fn to_params(&self) -> Vec<(&'static str, String)> {
        let mut params = Vec::new();
        let mut one = |name, value: Option<String>| params.extend(value.map(|v| (name, v)));
        one("tenant_id", self.tenant.clone());
        for action in &self.actions {
            one("action", Some(action.to_string()));
        }
        for action in &self.excluded_actions {
            one("not_action", Some(action.to_string()));
        }
        for category in &self.categories {
            one("category", Some(category.as_str().to_owned()));
        }
        one("actor_id", self.actor_id.clone());
        for kind in &self.actor_kinds {
            one("actor_kind", Some(kind.as_str().to_owned()));
        }
        one("actor_email", self.actor_email.clone());
        one("target_type", self.target_type.clone());
        one("target_id", self.target_id.clone());
        for severity in &self.severities {
            one("severity", Some(severity.as_str().to_owned()));
        }
        for outcome in &self.outcomes {
            one("outcome", Some(outcome.as_str().to_owned()));
        }
        one("since", self.since.map(format_time));
        one("until", self.until.map(format_time));
        one("ip", self.client_ip.map(|ip| ip.to_string()));
        one("request_id", self.request_id.clone());
        one("q", self.text.clone());
        params
    }

    /// What a cursor is bound to: the filters, order-independent for the
    /// several-valued ones, so a cursor works for the same filters however
    /// they are spelt.
    fn fingerprint(&self) -> [u8; 32] {
        let mut params = self.to_params();
        params.sort();
        let mut hash = Sha256::new();
        for (name, value) in params {
            // Lengths first, so no two different lists hash the same bytes.
            hash.update((name.len() as u64).to_be_bytes());
            hash.update(name);
            hash.update((value.len() as u64).to_be_bytes());
            hash.update(value);
        }
        hash.finalize().into()
    }
}

/// A validated query, ready for SQL.
#[derive(Debug, Clone)]
pub(crate) struct Plan {
    pub(crate) filter: Filter,
    pub(crate) terms: Vec<String>,
    pub(crate) after: Option<Position>,
    pub(crate) limit: u32,
    pub(crate) offset: u32,
    pub(crate) fingerprint: [u8; 32],
}

impl Plan {
    /// The page from up to `limit + 1` rows: the extra row only says that
    /// another page exists.
    pub(crate) fn page(&self, mut events: Vec<Event>, key: &CursorKey) -> Page {
        let more = events.len() > self.limit as usize;
        events.truncate(self.limit as usize);
        let next_cursor = more.then(|| events.last()).flatten().map(|last| {
            key.sign(
                Position {
                    occurred_at: last.occurred_at(),
                    id: last.id(),
                },
                &self.fingerprint,
            )
        });
        Page { events, next_cursor }
    }
}

/// One page of events, newest first.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Page {
    /// The events, with their integrity (stream, seq, leaf hash).
    pub events: Vec<Event>,
    /// Pass to [`AuditQuery::cursor`] for the next page; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// How many events one action has, for a filter drop-down.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ActionCount {
    /// The action.
    pub action: String,
    /// Its events' category.
    pub category: Category,
    /// How many events matched with it.
    pub events: u64,
}

impl ActionCount {
    pub(crate) fn from_row((action, category, events): (String, String, i64)) -> Result<Self, crate::StoreError> {
        let category = category
            .parse()
            .map_err(|e: audit_core::ParseEnumError| crate::StoreError::Corrupt {
                id: format!("events of action {action}"),
                reason: e.to_string(),
            })?;
        Ok(Self {
            action,
            category,
            events: u64::try_from(events).unwrap_or(0),
        })
    }
}

fn push_unique<T: PartialEq>(values: &mut Vec<T>, value: T) {
    if !values.contains(&value) {
        values.push(value);
    }
}

fn parse_enum<T: FromStr<Err = audit_core::ParseEnumError>>(name: &'static str, value: &str) -> Result<T, QueryError> {
    value.parse().map_err(|e: audit_core::ParseEnumError| {
        QueryError::new(
            name,
            format!(
                "must be one of {}; got `{}`",
                e.expected().join(", "),
                value.escape_debug()
            ),
        )
    })
}

fn parse_number(name: &'static str, value: &str) -> Result<u32, QueryError> {
    value
        .parse()
        .map_err(|_| QueryError::new(name, format!("must be a whole number, got `{}`", value.escape_debug())))
}

fn parse_time(name: &'static str, value: &str) -> Result<Timestamp, QueryError> {
    let parsed = DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDate::parse_from_str(value, "%Y-%m-%d")
                .map(|day| day.and_hms_opt(0, 0, 0).unwrap_or_default().and_utc())
        })
        .map_err(|_| {
            QueryError::new(
                name,
                format!(
                    "`{}` is not a time: use RFC 3339 (`2026-11-01T09:30:00Z`) or a date (`2026-11-01`)",
                    value.escape_debug()
                ),
            )
        })?;
    // RFC 3339 writes the years 0000 to 9999 only: a time its offset carries
    // outside them could not be given back by `to_params` (the next page's
    // link), nor shown as events' times are.
    if !(0..=9999).contains(&parsed.year()) {
        return Err(QueryError::new(
            name,
            format!("`{}` falls outside the years 0000 to 9999 in UTC", value.escape_debug()),
        ));
    }
    Ok(Timestamp::from_datetime(parsed))
}

fn format_time(at: Timestamp) -> String {
    at.as_datetime().to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

#[cfg(test)]
mod tests;
