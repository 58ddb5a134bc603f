//! The SQL of a query, written once for both backends.
//!
//! Each backend supplies a [`Dialect`]: how it binds times and ids and how it
//! matches a search term; the clauses, their order and the page logic are
//! shared, which is what keeps the two backends' answers identical.

use sqlx::QueryBuilder;

use super::{ActionFilter, Plan};
use crate::backend::Dialect;

/// How many of the newest rows that pass the other filters
/// [`page_scan`] checks for the search terms, unless the backend says
/// otherwise.
pub(crate) const TEXT_SCAN_ROWS: i64 = 2_000;

/// `SELECT <columns> … ORDER BY occurred_at DESC, id DESC LIMIT limit + 1`:
/// one row more than the page, to learn whether another page follows.
pub(crate) fn page<D: Dialect>(plan: &Plan, columns: &str) -> QueryBuilder<'static, D::Db> {
    page_from::<D>(plan, columns, |query| {
        query.push(" FROM audit_events WHERE TRUE");
    })
}

/// [`page`], with the rows coming from what `source` pushes: ` FROM …
/// WHERE <condition>` naming `audit_events` (a search index joined to it,
/// say); every filter, the search terms included, is then checked on the
/// rows.
pub(crate) fn page_from<D: Dialect>(
    plan: &Plan,
    columns: &str,
    source: impl FnOnce(&mut QueryBuilder<'static, D::Db>),
) -> QueryBuilder<'static, D::Db> {
    // With an offset, a deferred join: the skipped rows are found by id
    // alone (from the index where it holds the filters), and only the
    // page's rows are read in full; reading every skipped row's columns
    // (PostgreSQL turning each one's JSON into text) cost ~1 s at 100,000.
    let deferred = plan.offset > 0;
    let mut query = QueryBuilder::new(if deferred {
        format!("SELECT {columns} FROM audit_events WHERE id IN (SELECT id")
    } else {
        format!("SELECT {columns}")
    });
    source(&mut query);
    push_filters::<D>(&mut query, plan, true, true);
    push_after::<D>(&mut query, plan);
    push_page::<D>(&mut query, plan);
    if deferred {
        query.push(") ORDER BY occurred_at DESC, id DESC");
    }
    query
}

/// A free-text page found by scanning instead of through a search index:
/// the newest `rows` rows that pass the other filters (an index range read
/// in order), checked for the terms one by one. When a term is common this
/// fills a page after a few hundred rows, where a trigram index would
/// first list every match in the whole table (all tenants, all times). The
/// page it returns is the right one exactly when it is full (`limit + 1`
/// rows): otherwise the caller runs another query.
///
/// The scan selects only `id`, `occurred_at` and `search_text`, and the
/// page's columns are read for the page's rows alone, so where an index
/// holds those (SQLite's tenant-and-time index) the scan never reads a row.
pub(crate) fn page_scan<D: Dialect>(plan: &Plan, columns: &str, rows: i64) -> QueryBuilder<'static, D::Db> {
    let mut query = QueryBuilder::new(format!(
        "SELECT {columns} FROM audit_events WHERE id IN (SELECT id FROM \
         (SELECT id, occurred_at, search_text FROM audit_events WHERE TRUE"
    ));
    push_filters::<D>(&mut query, plan, true, false);
    push_after::<D>(&mut query, plan);
    query.push(" ORDER BY occurred_at DESC, id DESC LIMIT ");
    D::bind_int(&mut query, rows);
    query.push(") AS scanned WHERE TRUE");
    for term in &plan.terms {
        query.push(" AND ");
        D::push_contains(&mut query, term);
    }
    push_page::<D>(&mut query, plan);
    query.push(") ORDER BY occurred_at DESC, id DESC");
    query
}

fn push_after<D: Dialect>(query: &mut QueryBuilder<'static, D::Db>, plan: &Plan) {
    if let Some(after) = plan.after {
        // Row-value comparison: both backends turn it into an index range.
        // The plain bound on occurred_at says the same for the time alone,
        // which PostgreSQL's partition pruning understands (it does not
        // read a row value): a page deep in the past plans only the
        // partitions at or before its cursor.
        query.push(" AND occurred_at <= ");
        D::bind_time(query, after.occurred_at);
        query.push(" AND (occurred_at, id) < (");
        D::bind_time(query, after.occurred_at);
        query.push(", ");
        D::bind_id(query, after.id);
        query.push(")");
    }
}

fn push_page<D: Dialect>(query: &mut QueryBuilder<'static, D::Db>, plan: &Plan) {
    query.push(" ORDER BY occurred_at DESC, id DESC LIMIT ");
    D::bind_int(query, i64::from(plan.limit) + 1);
    if plan.offset > 0 {
        query.push(" OFFSET ");
        D::bind_int(query, i64::from(plan.offset));
    }
}

/// `SELECT action, category, count(*)` over the filters except the action
/// filter (the list a drop-down offers should not shrink to what is already
/// chosen), most frequent first, then by name. An action's events normally
/// share one category; where code overrode it for some, the alphabetically
/// first is shown.
pub(crate) fn action_counts<D: Dialect>(
    plan: &Plan,
    source: impl FnOnce(&mut QueryBuilder<'static, D::Db>),
) -> QueryBuilder<'static, D::Db> {
    let mut query = QueryBuilder::new("SELECT action, min(category) AS category, count(*) AS events");
    source(&mut query);
    push_filters::<D>(&mut query, plan, false, true);
    query.push(" GROUP BY action ORDER BY events DESC, action");
    query
}

fn push_filters<D: Dialect>(
    query: &mut QueryBuilder<'static, D::Db>,
    plan: &Plan,
    with_actions: bool,
    with_terms: bool,
) {
    let f = &plan.filter;
    let mut equals = |column: &str, value: &Option<String>| {
        if let Some(value) = value {
            query.push(format_args!(" AND {column} = "));
            D::bind_text(query, value.clone());
        }
    };
    equals("tenant_id", &f.tenant);
    equals("actor_id", &f.actor_id);
    equals("actor_email", &f.actor_email);
    equals("target_type", &f.target_type);
    equals("target_id", &f.target_id);
    equals("request_id", &f.request_id);
    equals("client_ip", &f.client_ip.map(|ip| ip.to_string()));
    if with_actions && !f.actions.is_empty() {
        query.push(" AND ");
        push_any_action::<D>(query, &f.actions);
    }
    // Exclusions hold for the action counts too: what is hidden from the
    // list is hidden from its drop-down.
    if !f.excluded_actions.is_empty() {
        query.push(" AND NOT ");
        push_any_action::<D>(query, &f.excluded_actions);
    }
    push_in::<D>(query, "category", f.categories.iter().map(|c| c.as_str()));
    push_in::<D>(query, "actor_kind", f.actor_kinds.iter().map(|k| k.as_str()));
    push_in::<D>(query, "severity", f.severities.iter().map(|s| s.as_str()));
    push_in::<D>(query, "outcome", f.outcomes.iter().map(|o| o.as_str()));
    if let Some(since) = f.since {
        query.push(" AND occurred_at >= ");
        D::bind_time(query, since);
    }
    if let Some(until) = f.until {
        query.push(" AND occurred_at < ");
        D::bind_time(query, until);
    }
    if with_terms {
        for term in &plan.terms {
            query.push(" AND ");
            D::push_contains(query, term);
        }
    }
}

/// `(<one> OR <other> …)`, each an exact action or a prefix range.
fn push_any_action<D: Dialect>(query: &mut QueryBuilder<'static, D::Db>, actions: &[ActionFilter]) {
    query.push("(");
    for (i, action) in actions.iter().enumerate() {
        if i > 0 {
            query.push(" OR ");
        }
        match action {
            ActionFilter::Exact(action) => {
                query.push("action = ");
                D::bind_text(query, action.as_str().to_owned());
            }
            // `billing.*` is the range ['billing.', 'billing/'): '/' is
            // the byte after '.', so the index serves it as a range scan.
            ActionFilter::Prefix(prefix) => {
                query.push("(action >= ");
                D::bind_text(query, format!("{prefix}."));
                query.push(" AND action < ");
                D::bind_text(query, format!("{prefix}/"));
                query.push(")");
            }
        }
    }
    query.push(")");
}

fn push_in<'v, D: Dialect>(
    query: &mut QueryBuilder<'static, D::Db>,
    column: &str,
    values: impl ExactSizeIterator<Item = &'v str>,
) {
    if values.len() == 0 {
        return;
    }
    query.push(format_args!(" AND {column} IN ("));
    for (i, value) in values.enumerate() {
        if i > 0 {
            query.push(", ");
        }
        D::bind_text(query, value.to_owned());
    }
    query.push(")");
}
