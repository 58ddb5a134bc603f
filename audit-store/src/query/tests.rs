use std::net::IpAddr;

use super::*;

#[test]
fn every_parameter_round_trips_through_params() {
    let params = [
        ("tenant_id", "acme"),
        ("action", "member.invited,billing.*"),
        ("action", "app.deleted"),
        ("category", "delete"),
        ("actor_id", "u_1"),
        ("actor_kind", "user,api_key"),
        ("actor_email", "a@acme.test"),
        ("target_type", "app"),
        ("target_id", "app_9"),
        ("severity", "warning"),
        ("severity", "critical"),
        ("outcome", "denied"),
        ("since", "2026-11-01"),
        ("until", "2026-11-02T10:00:00.5+01:00"),
        ("ip", "::ffff:10.0.0.7"),
        ("request_id", "req-1"),
        ("q", "refund \"big plan\""),
        ("limit", "200"),
        ("offset", "100"),
    ];
    let query = AuditQuery::from_params(params).unwrap();
    assert_eq!(query.filter.actions.len(), 3);
    assert_eq!(query.filter.client_ip, Some("10.0.0.7".parse::<IpAddr>().unwrap()));
    assert_eq!(
        query.filter.until.unwrap().as_datetime().to_rfc3339(),
        "2026-11-02T09:00:00.500+00:00"
    );
    let params = query.to_params();
    let again = AuditQuery::from_params(params.iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    assert_eq!(again, query);
}

#[test]
fn no_parameters_hold_the_defaults() {
    let query = AuditQuery::from_params([]).unwrap();
    assert_eq!(query, AuditQuery::new());
    assert_eq!(query.page_limit(), DEFAULT_LIMIT);
    assert!(query.to_params().is_empty());
}

#[test]
fn an_empty_value_is_refused_naming_its_parameter() {
    for parameter in QUERY_PARAMETERS {
        for empty in ["", "  "] {
            let error = error(&[(parameter.name, empty)]);
            assert_eq!(error.parameter(), parameter.name);
            assert!(error.message().contains("is empty"), "{error}");
        }
    }
    for list in ["success,", ",denied", "success,,denied"] {
        let error = error(&[("outcome", list)]);
        assert_eq!(error.parameter(), "outcome");
        assert!(error.message().contains("empty item"), "{error}");
    }
    // An unknown parameter is named as unknown, empty or not.
    assert!(error(&[("colour", "")]).message().contains("not a known parameter"));
}

#[test]
fn not_action_leaves_out_exact_actions_and_prefixes() {
    let query = AuditQuery::from_params([("not_action", "audit_log.*,app.created"), ("action", "app.*")]).unwrap();
    assert_eq!(query.filter.excluded_actions.len(), 2);
    let again = AuditQuery::from_params(query.to_params().iter().map(|(k, v)| (*k, v.as_str()))).unwrap();
    assert_eq!(again, query);
    let error = error(&[("not_action", "Audit.*")]);
    assert_eq!(error.parameter(), "not_action");
}

fn error(params: &[(&str, &str)]) -> QueryError {
    AuditQuery::from_params(params.iter().copied()).unwrap_err()
}

#[test]
fn each_bad_parameter_is_named_with_what_is_wrong() {
    /// Parameters, the parameter blamed, part of the message.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case<'_>] = &[
        (&[("limit", "0")], "limit", "between 1 and 200, got 0"),
        (&[("limit", "201")], "limit", "between 1 and 200, got 201"),
        (&[("limit", "-1")], "limit", "whole number"),
        (&[("limit", "ten")], "limit", "whole number"),
        (&[("offset", "100001")], "offset", "at most 100000"),
        (&[("offset", "5"), ("cursor", "abc")], "offset", "cannot be combined"),
        (
            &[("severity", "loud")],
            "severity",
            "info, notice, warning, critical; got `loud`",
        ),
        (&[("outcome", "ok")], "outcome", "success, failure, denied"),
        (&[("category", "misc")], "category", "create"),
        (&[("actor_kind", "robot")], "actor_kind", "api_key"),
        (&[("action", "App.Deleted")], "action", "is not an action"),
        (&[("action", "Billing.*")], "action", "not a valid prefix"),
        (&[("action", ".*")], "action", "not a valid prefix"),
        (&[("since", "yesterday")], "since", "is not a time"),
        (&[("until", "2026-13-01")], "until", "is not a time"),
        (
            &[("since", "2026-11-02"), ("until", "2026-11-01")],
            "until",
            "later than `since`",
        ),
        (&[("ip", "10.0.0.256")], "ip", "not an IPv4 or IPv6"),
        (&[("tenant_id", "a"), ("tenant_id", "b")], "tenant_id", "more than once"),
        (&[("sort", "asc")], "sort", "not a known parameter"),
        (&[("q", "\"open")], "q", "closing"),
    ];
    for (params, parameter, message) in cases {
        let error = error(params);
        assert_eq!(error.parameter(), *parameter, "{params:?}: {error}");
        assert!(error.to_string().contains(message), "{params:?}: {error}");
    }
    let long = "x".repeat(MAX_VALUE_CHARS + 1);
    let error = error(&[("actor_id", &long)]);
    assert_eq!(error.parameter(), "actor_id");
}

/// Found by `tests/fuzz_query.rs`: every value was split at commas, so a
/// tenant id or a search ending in a comma was refused as a list with an
/// empty item.
#[test]
fn a_comma_in_a_single_valued_parameter_is_part_of_its_value() {
    for (parameter, value) in [("tenant_id", "a,"), ("q", "\",,a\""), ("actor_id", ",u_1")] {
        let query = AuditQuery::from_params([(parameter, value)]).unwrap();
        let again = AuditQuery::from_params(query.to_params().iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(again, Ok(query), "{parameter}={value}");
    }
    assert!(error(&[("outcome", "success,")]).message().contains("empty item"));
}

/// Found by `tests/fuzz_query.rs`: a time whose offset carried it past
/// 9999 (or before 0000) in UTC was accepted, and `to_params` then wrote it
/// as `+10000-…`, which `from_params` refuses.
#[test]
fn a_time_outside_the_years_rfc_3339_can_write_is_refused() {
    for time in ["9999-12-31T03:00:00-21:00", "0000-01-01T00:00:00+00:01"] {
        let error = error(&[("since", time)]);
        assert_eq!(error.parameter(), "since");
        assert!(error.message().contains("outside the years 0000 to 9999"), "{error}");
    }
    for time in ["9999-12-31T23:59:59Z", "0000-01-01", "9999-12-31T03:00:00-20:59"] {
        let query = AuditQuery::from_params([("until", time)]).unwrap();
        let again = AuditQuery::from_params(query.to_params().iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(again, Ok(query), "{time}");
    }
}

#[test]
fn a_cursor_is_bound_to_the_filters_not_to_their_spelling_or_the_page_size() {
    let key = CursorKey::from_stored(&[3; 32]).unwrap();
    let first = AuditQuery::from_params([("tenant_id", "acme"), ("severity", "warning,critical")]).unwrap();
    let plan = first.plan(&key).unwrap();
    let at = Timestamp::now();
    let position = Position {
        occurred_at: at,
        id: audit_core::new_event_id(at),
    };
    let cursor = key.sign(position, &plan.fingerprint);

    let respelt = AuditQuery::from_params([
        ("severity", "critical"),
        ("severity", "warning"),
        ("tenant_id", "acme"),
        ("limit", "10"),
        ("cursor", &cursor),
    ])
    .unwrap();
    assert_eq!(respelt.plan(&key).unwrap().after, Some(position));

    let other_tenant = AuditQuery::from_params([("tenant_id", "evil"), ("severity", "warning,critical")])
        .unwrap()
        .cursor(cursor);
    let error = other_tenant.plan(&key).unwrap_err();
    assert_eq!(error.parameter(), "cursor");
}

#[test]
fn prefix_filters_match_whole_segments_only() {
    let prefix = ActionFilter::prefix("billing.invoice").unwrap();
    assert!(prefix.matches("billing.invoice.paid"));
    assert!(!prefix.matches("billing.invoices.paid"));
    assert!(!prefix.matches("billing.invoice"));
    assert_eq!(prefix.to_string(), "billing.invoice.*");
}

#[test]
fn every_described_parameter_is_one_from_params_takes() {
    for parameter in QUERY_PARAMETERS {
        let value = match parameter.format {
            ValueFormat::Integer { .. } => "10",
            ValueFormat::Time => "2026-01-01",
            ValueFormat::Ip => "10.0.0.1",
            ValueFormat::Action => "app.created",
            _ => parameter.values.first().copied().unwrap_or("x"),
        };
        let query = AuditQuery::from_params([(parameter.name, value)]);
        assert!(query.is_ok(), "{}: {:?}", parameter.name, query.err());
        for allowed in parameter.values {
            assert!(
                AuditQuery::from_params([(parameter.name, *allowed)]).is_ok(),
                "{allowed}"
            );
        }
    }
}

#[test]
fn the_default_window_applies_only_without_a_range_and_does_not_bind_cursors() {
    let key = CursorKey::from_stored(&[3; 32]).unwrap();
    let day = |d: &str| parse_time("since", d).unwrap();
    let plain = AuditQuery::new().tenant("acme");
    let defaulted = plain.clone().default_since(day("2026-01-01"));
    assert_eq!(defaulted.plan(&key).unwrap().filter.since, Some(day("2026-01-01")));
    assert_eq!(
        defaulted.plan(&key).unwrap().fingerprint,
        plain.plan(&key).unwrap().fingerprint
    );
    let ranged = defaulted.clone().until(day("2026-02-01"));
    assert_eq!(ranged.plan(&key).unwrap().filter.since, None);
    assert!(defaulted.to_params().iter().all(|(name, _)| *name != "since"));
}
