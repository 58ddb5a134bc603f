//! `audit.toml` text → checked [`DeclaredAction`]s, or the first problem as
//! `file:line:column: what is wrong`.
//!
//! Read by hand from toml's spanned document (`DeTable`) rather than through
//! serde: the proc macro stays small, and every error can point at the line
//! of the key it is about.

use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::DeclaredAction;
use crate::attr::{CATEGORIES, SEVERITIES, list};
use crate::{describe, rules};

/// The names a description's `{placeholder}` may use besides the action's
/// metadata keys: the event's own fields that every event has.
pub(crate) const BUILT_IN_PLACEHOLDERS: &[&str] = &["actor", "target", "tenant", "action", "outcome"];

/// Metadata value types and the `MetadataType` variant of each.
pub(crate) const METADATA_TYPES: &[(&str, &str)] = &[
    ("string", "String"),
    ("integer", "Integer"),
    ("number", "Number"),
    ("boolean", "Boolean"),
    ("object", "Object"),
    ("array", "Array"),
];

const ACTION_KEYS: &[&str] = &["description", "category", "severity", "metadata"];

/// A problem and where it is.
struct Problem {
    at: Range<usize>,
    message: String,
}

fn problem(at: Range<usize>, message: impl Into<String>) -> Problem {
    Problem {
        at,
        message: message.into(),
    }
}

/// Parses and checks the whole file.
///
/// # Errors
/// The first problem, as `shown:line:column: message`.
pub(super) fn catalogue(text: &str, shown: &str) -> Result<Vec<DeclaredAction>, String> {
    let located = |at: Range<usize>, message: &str| {
        let (line, column) = line_and_column(text, at.start);
        format!("invalid action catalogue `{shown}`, line {line}, column {column}: {message}")
    };
    let document = DeTable::parse(text).map_err(|error| {
        located(
            error.span().unwrap_or(0..0),
            &format!("not valid TOML: {}", error.message()),
        )
    })?;
    actions(document.get_ref()).map_err(|found| located(found.at, &found.message))
}

fn actions(document: &DeTable<'_>) -> Result<Vec<DeclaredAction>, Problem> {
    let mut table = None;
    for (key, value) in document {
        if key.get_ref() != "actions" {
            return Err(problem(
                key.span(),
                format!(
                    "unknown top-level key `{}`; the file holds one table, `[actions.\"<name>\"]` per action",
                    key.get_ref()
                ),
            ));
        }
        table = Some(as_table(value, "`actions`")?);
    }
    let mut entries: Vec<_> = table.into_iter().flatten().collect();
    // toml keeps keys sorted; the catalogue keeps the file's order.
    entries.sort_by_key(|(key, _)| key.span().start);
    let mut declared: Vec<DeclaredAction> = Vec::with_capacity(entries.len());
    for (key, value) in entries {
        let action = action(key, value)?;
        let constant = constant_name(&action.name);
        if let Some(same) = declared.iter().find(|other| constant_name(&other.name) == constant) {
            return Err(problem(
                key.span(),
                format!(
                    "actions `{}` and `{}` would both be the constant `{constant}`; rename one",
                    same.name, action.name
                ),
            ));
        }
        declared.push(action);
    }
    Ok(declared)
}

fn action(key: &Spanned<std::borrow::Cow<'_, str>>, value: &Spanned<DeValue<'_>>) -> Result<DeclaredAction, Problem> {
    let name = key.get_ref().to_string();
    let here = format!("`actions.\"{name}\"`");
    if !name.contains('.') && is_table_of_tables(value) {
        // `[actions.app.created]`: TOML reads unquoted dots as nested tables.
        return Err(problem(
            key.span(),
            format!(
                "{here} is a table of tables: write each action's name in quotes, \
                 `[actions.\"{name}.<verb>\"]`; unquoted, TOML reads its dots as nested tables"
            ),
        ));
    }
    rules::check_action(&name).map_err(|message| problem(key.span(), format!("{here}: {message}")))?;
    let fields = as_table(value, &here)?;
    for (field, _) in fields {
        if !ACTION_KEYS.contains(&field.get_ref().as_ref()) {
            let hint = rules::closest(field.get_ref(), ACTION_KEYS.iter().copied())
                .map(|close| format!(" (did you mean `{close}`?)"))
                .unwrap_or_default();
            return Err(problem(
                field.span(),
                format!(
                    "{here}: unknown key `{}`{hint}; expected one of {}",
                    field.get_ref(),
                    list(ACTION_KEYS)
                ),
            ));
        }
    }
    let field = |wanted: &str| fields.iter().find(|(key, _)| key.get_ref() == wanted);

    let metadata = match field("metadata") {
        None => Vec::new(),
        Some((_, value)) => metadata(value, &here)?,
    };
    let Some((_, description_value)) = field("description") else {
        return Err(problem(
            key.span(),
            format!("{here} has no `description`; add a sentence such as `description = \"Deleted app {{target}}\"`"),
        ));
    };
    let description = as_str(description_value, &format!("{here}.description"))?.to_owned();
    check_placeholders(&description, &metadata)
        .map_err(|message| problem(description_value.span(), format!("{here}.description: {message}")))?;
    let category = match field("category") {
        Some((_, value)) => one_of(value, &format!("{here}.category"), CATEGORIES)?,
        None => rules::category_for_action(&name),
    };
    let severity = match field("severity") {
        Some((_, value)) => Some(one_of(value, &format!("{here}.severity"), SEVERITIES)?),
        None => None,
    };
    Ok(DeclaredAction {
        name,
        category,
        severity,
        description,
        metadata,
    })
}

fn is_table_of_tables(value: &Spanned<DeValue<'_>>) -> bool {
    match value.get_ref() {
        DeValue::Table(table) => {
            !table.is_empty() && table.values().all(|inner| matches!(inner.get_ref(), DeValue::Table(_)))
        }
        _ => false,
    }
}

fn metadata(value: &Spanned<DeValue<'_>>, here: &str) -> Result<Vec<(String, &'static str)>, Problem> {
    let mut keys: Vec<_> = as_table(value, &format!("{here}.metadata"))?.iter().collect();
    keys.sort_by_key(|(key, _)| key.span().start);
    keys.into_iter()
        .map(|(key, kind)| {
            let where_ = format!("{here}.metadata.{}", key.get_ref());
            if key.get_ref().trim().is_empty() {
                return Err(problem(key.span(), format!("{here}.metadata: a key must not be empty")));
            }
            let variant = one_of(kind, &where_, METADATA_TYPES)?;
            Ok((key.get_ref().to_string(), variant))
        })
        .collect()
}

/// Every `{placeholder}` names a built-in field or one of the metadata keys
/// (its first segment, for paths such as `{actor.email}`).
fn check_placeholders(description: &str, metadata: &[(String, &str)]) -> Result<(), String> {
    let holes = match describe::parse(description) {
        Ok(describe::Template::Plain(_)) => return Ok(()),
        Ok(describe::Template::Format { holes, .. }) => holes,
        Err(message) => return Err(message),
    };
    for hole in holes {
        let known =
            BUILT_IN_PLACEHOLDERS.contains(&hole.root.as_str()) || metadata.iter().any(|(key, _)| *key == hole.root);
        if !known {
            let names: Vec<&str> = BUILT_IN_PLACEHOLDERS
                .iter()
                .copied()
                .chain(metadata.iter().map(|(key, _)| key.as_str()))
                .collect();
            return Err(format!(
                "placeholder `{}` names neither an event field nor a metadata key of this action; \
                 expected one of {} (declare a metadata key in `metadata = {{ {} = \"string\" }}`)",
                hole.written,
                list(&names),
                hole.root
            ));
        }
    }
    Ok(())
}

fn as_table<'a, 'i>(value: &'a Spanned<DeValue<'i>>, what: &str) -> Result<&'a DeTable<'i>, Problem> {
    match value.get_ref() {
        DeValue::Table(table) => Ok(table),
        other => Err(problem(
            value.span(),
            format!("{what} must be a table, found {}", type_name(other)),
        )),
    }
}

fn as_str<'a>(value: &'a Spanned<DeValue<'_>>, what: &str) -> Result<&'a str, Problem> {
    match value.get_ref() {
        DeValue::String(text) => Ok(text),
        other => Err(problem(
            value.span(),
            format!("{what} must be a string, found {}", type_name(other)),
        )),
    }
}

/// The variant of a string from `table`; an error lists the accepted names.
fn one_of(value: &Spanned<DeValue<'_>>, what: &str, table: &[(&str, &'static str)]) -> Result<&'static str, Problem> {
    let text = as_str(value, what)?;
    if let Some((_, variant)) = table.iter().find(|(name, _)| *name == text) {
        return Ok(variant);
    }
    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    let hint = rules::closest(&text.to_lowercase(), names.iter().copied())
        .map(|close| format!(" (did you mean `{close}`?)"))
        .unwrap_or_default();
    Err(problem(
        value.span(),
        format!(
            "{what}: unknown value `{}`{hint}; expected one of {}",
            text.escape_debug(),
            list(&names)
        ),
    ))
}

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a datetime",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

/// 1-based line and column (in chars) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |last| last.chars().count()) + 1;
    (line, column)
}

/// `app.created` → `APP_CREATED`, the constant `catalogue!()` generates.
pub(crate) fn constant_name(action: &str) -> String {
    action.replace('.', "_").to_ascii_uppercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Vec<DeclaredAction>, String> {
        catalogue(text, "audit.toml")
    }

    #[test]
    fn reads_every_field_in_declaration_order() {
        let actions = parse(
            r#"
[actions."member.invited"]
description = "Invited {email} as {role}"
metadata = { email = "string", role = "string", seats = "integer" }

[actions."app.created"]
description = "Created app {target}"
category = "other"
severity = "notice"
"#,
        )
        .unwrap();
        let names: Vec<&str> = actions.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(names, ["member.invited", "app.created"]);
        assert_eq!(actions[0].category, "Create", "derived from `invited`");
        assert_eq!(actions[0].severity, None);
        assert_eq!(
            actions[0].metadata,
            [
                ("email".to_owned(), "String"),
                ("role".to_owned(), "String"),
                ("seats".to_owned(), "Integer")
            ]
        );
        assert_eq!(actions[1].category, "Other", "declared wins over derived");
        assert_eq!(actions[1].severity, Some("Notice"));
        assert_eq!(actions[1].description, "Created app {target}");
    }

    #[test]
    fn an_empty_file_declares_nothing() {
        assert!(parse("").unwrap().is_empty());
        assert!(parse("[actions]\n").unwrap().is_empty());
    }

    #[test]
    fn errors_name_the_file_line_key_and_problem() {
        let error =
            parse("[actions.\"app.created\"]\ndescription = \"x\"\n[actions.\"App.Deleted\"]\ndescription = \"y\"\n")
                .unwrap_err();
        assert!(
            error.starts_with("invalid action catalogue `audit.toml`, line 3, column 10:"),
            "{error}"
        );
        assert!(error.contains("`actions.\"App.Deleted\"`: invalid action"), "{error}");
        assert!(error.contains("try `app.deleted`"), "{error}");

        let error = parse("[actions.\"app.created\"]\ndescription = \"x\"\ncategory = \"creat\"\n").unwrap_err();
        assert!(error.contains("line 3, column 12"), "{error}");
        assert!(
            error.contains("unknown value `creat` (did you mean `create`?)"),
            "{error}"
        );

        let error = parse("[actions.\"app.created\"]\ndescription = \"x\"\nseverity = \"loud\"\n").unwrap_err();
        assert!(error.contains("`actions.\"app.created\"`.severity"), "{error}");
        assert!(error.contains("`info`, `notice`, `warning`, `critical`"), "{error}");

        let error =
            parse("[actions.\"app.created\"]\ndescription = \"x\"\nmetadata = { plan = \"text\" }\n").unwrap_err();
        assert!(error.contains("metadata.plan: unknown value `text`"), "{error}");
        assert!(
            error.contains("`string`, `integer`, `number`, `boolean`, `object`, `array`"),
            "{error}"
        );
    }

    #[test]
    fn placeholders_name_built_in_fields_or_metadata_keys() {
        let ok = "[actions.\"app.created\"]\ndescription = \"{actor.email} created {target} on {plan}, {{literal}}\"\n\
                  metadata = { plan = \"string\" }\n";
        assert!(parse(ok).is_ok());
        let error = parse("[actions.\"app.created\"]\ndescription = \"Created {app_name}\"\n").unwrap_err();
        assert!(error.contains("line 2, column 15"), "{error}");
        assert!(error.contains("placeholder `{app_name}`"), "{error}");
        assert!(
            error.contains("`actor`, `target`, `tenant`, `action`, `outcome`"),
            "{error}"
        );
        let unclosed = parse("[actions.\"app.created\"]\ndescription = \"Created {target\"\n").unwrap_err();
        assert!(unclosed.contains("unclosed placeholder"), "{unclosed}");
    }

    #[test]
    fn structure_errors() {
        let missing = parse("[actions.\"app.created\"]\ncategory = \"create\"\n").unwrap_err();
        assert!(missing.contains("has no `description`"), "{missing}");
        let typo = parse("[actions.\"app.created\"]\ndescription = \"x\"\nseverty = \"info\"\n").unwrap_err();
        assert!(
            typo.contains("unknown key `severty` (did you mean `severity`?)"),
            "{typo}"
        );
        let top = parse("[action.\"app.created\"]\ndescription = \"x\"\n").unwrap_err();
        assert!(top.contains("unknown top-level key `action`"), "{top}");
        let unquoted = parse("[actions.app.created]\ndescription = \"x\"\n").unwrap_err();
        assert!(unquoted.contains("write each action's name in quotes"), "{unquoted}");
        assert!(unquoted.contains("line 1, column 10"), "{unquoted}");
        let syntax = parse("[actions.\"app.created\"\n").unwrap_err();
        assert!(
            syntax.contains("line 1") && syntax.contains("not valid TOML"),
            "{syntax}"
        );
        let clash =
            parse("[actions.\"a_b.c\"]\ndescription = \"x\"\n[actions.\"a.b_c\"]\ndescription = \"y\"\n").unwrap_err();
        assert!(clash.contains("both be the constant `A_B_C`"), "{clash}");
    }

    #[test]
    fn constant_names_are_upper_snake() {
        assert_eq!(constant_name("app.created"), "APP_CREATED");
        assert_eq!(constant_name("audit_log.viewed"), "AUDIT_LOG_VIEWED");
    }
}
