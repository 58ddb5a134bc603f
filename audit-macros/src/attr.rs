//! Parsing the arguments of `#[audited(...)]`.
//!
//! Syntax errors stop the parse (syn cannot resynchronise inside an attribute);
//! everything else (a repeated key, a bad value) is collected in
//! [`AuditedArgs::errors`] so that one run of the compiler reports them all.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, Ident, Lit, LitStr, Token};

use crate::rules;

mod kw {
    syn::custom_keyword!(action);
    syn::custom_keyword!(target);
    syn::custom_keyword!(target_id);
    syn::custom_keyword!(severity);
    syn::custom_keyword!(category);
    syn::custom_keyword!(description);
    syn::custom_keyword!(fields);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(tenant);
    syn::custom_keyword!(redact);
    syn::custom_keyword!(catalogue);
}

/// Every argument, in the order the docs list them.
pub(crate) const ARGUMENTS: &[&str] = &[
    "action",
    "target",
    "target_id",
    "severity",
    "category",
    "description",
    "fields",
    "skip",
    "tenant",
    "redact",
    "catalogue",
];

pub(crate) const SEVERITIES: &[(&str, &str)] = &[
    ("info", "Info"),
    ("notice", "Notice"),
    ("warning", "Warning"),
    ("critical", "Critical"),
];

pub(crate) const CATEGORIES: &[(&str, &str)] = &[
    ("create", "Create"),
    ("update", "Update"),
    ("delete", "Delete"),
    ("access", "Access"),
    ("auth", "Auth"),
    ("other", "Other"),
];

/// The parsed attribute. Values are kept with their spans so later checks
/// (which need the function's argument names) can point at them.
#[derive(Default)]
pub(crate) struct AuditedArgs {
    pub(crate) action: Option<LitStr>,
    pub(crate) target: Option<TargetArg>,
    pub(crate) target_id: Option<(Span, Expr)>,
    /// The variant name of `Severity`, and the literal it came from.
    pub(crate) severity: Option<(&'static str, LitStr)>,
    /// The variant name of `Category`, and the literal it came from.
    pub(crate) category: Option<(&'static str, LitStr)>,
    pub(crate) description: Option<LitStr>,
    pub(crate) fields: Vec<FieldArg>,
    pub(crate) skip: Vec<Ident>,
    pub(crate) tenant: Option<Expr>,
    pub(crate) redact: Vec<LitStr>,
    /// `catalogue = "path/to/audit.toml"`: checked (found, parsed) when planning.
    pub(crate) catalogue: Option<LitStr>,
    /// Problems found while parsing that did not stop it.
    pub(crate) errors: Vec<syn::Error>,
    seen: Vec<&'static str>,
}

/// `target = "app"` (a type, with `target_id`) or `target = <expr>` (an `Auditable` value).
pub(crate) enum TargetArg {
    Type(LitStr),
    Resource(Expr),
}

/// One entry of `fields(...)`.
pub(crate) struct FieldArg {
    pub(crate) key: String,
    pub(crate) key_span: Span,
    pub(crate) value: FieldValue,
}

pub(crate) enum FieldValue {
    /// `key = <expr>`
    Expr(Expr),
    /// `name`: the argument of that name.
    Argument(Ident),
}

impl AuditedArgs {
    /// Records that `key` was given; a second time is an error at `span`.
    fn first_time(&mut self, key: &'static str, span: Span) -> bool {
        if self.seen.contains(&key) {
            self.errors
                .push(syn::Error::new(span, format!("`{key}` specified more than once")));
            return false;
        }
        self.seen.push(key);
        true
    }

    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }
}

impl Parse for AuditedArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Self::default();
        while !input.is_empty() {
            parse_one(input, &mut args)?;
            if input.is_empty() {
                break;
            }
            input.parse::<Token![,]>()?;
        }
        Ok(args)
    }
}

fn parse_one(input: ParseStream<'_>, args: &mut AuditedArgs) -> syn::Result<()> {
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::action) {
        let key = input.parse::<kw::action>()?;
        input.parse::<Token![=]>()?;
        let value = literal(
            input,
            "action",
            "action = \"app.deleted\"",
            "so it can be checked at compile time",
        )?;
        if args.first_time("action", key.span) {
            if let Err(message) = rules::check_action(&value.value()) {
                args.error(value.span(), message);
            }
            args.action = Some(value);
        }
    } else if lookahead.peek(kw::target) {
        let key = input.parse::<kw::target>()?;
        input.parse::<Token![=]>()?;
        let value = match input.parse::<Expr>()? {
            Expr::Lit(ExprLit { lit: Lit::Str(lit), .. }) => {
                if let Err(message) = rules::check_target_type(&lit.value()) {
                    args.error(lit.span(), message);
                }
                TargetArg::Type(lit)
            }
            expr => TargetArg::Resource(expr),
        };
        if args.first_time("target", key.span) {
            args.target = Some(value);
        }
    } else if lookahead.peek(kw::target_id) {
        let key = input.parse::<kw::target_id>()?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        if args.first_time("target_id", key.span) {
            args.target_id = Some((key.span, value));
        }
    } else if lookahead.peek(kw::severity) {
        let key = input.parse::<kw::severity>()?;
        input.parse::<Token![=]>()?;
        let value = literal(input, "severity", "severity = \"critical\"", "")?;
        let variant = one_of(args, &value, "severity", SEVERITIES);
        if args.first_time("severity", key.span) {
            args.severity = variant.map(|variant| (variant, value));
        }
    } else if lookahead.peek(kw::category) {
        let key = input.parse::<kw::category>()?;
        input.parse::<Token![=]>()?;
        let value = literal(input, "category", "category = \"delete\"", "")?;
        let variant = one_of(args, &value, "category", CATEGORIES);
        if args.first_time("category", key.span) {
            args.category = variant.map(|variant| (variant, value));
        }
    } else if lookahead.peek(kw::description) {
        let key = input.parse::<kw::description>()?;
        input.parse::<Token![=]>()?;
        let value = literal(
            input,
            "description",
            "description = \"Deleted app {id}\"",
            "whose `{name}` placeholders name the function's arguments",
        )?;
        if args.first_time("description", key.span) {
            args.description = Some(value);
        }
    } else if lookahead.peek(kw::fields) {
        let key = input.parse::<kw::fields>()?;
        let content;
        syn::parenthesized!(content in input);
        let fields = Punctuated::<FieldArg, Token![,]>::parse_terminated(&content)?;
        if args.first_time("fields", key.span) {
            for field in fields {
                if args.fields.iter().any(|seen| seen.key == field.key) {
                    args.error(
                        field.key_span,
                        format!("field `{}` specified more than once", field.key),
                    );
                } else {
                    args.fields.push(field);
                }
            }
        }
    } else if lookahead.peek(kw::skip) {
        let key = input.parse::<kw::skip>()?;
        let content;
        syn::parenthesized!(content in input);
        let names = Punctuated::<Ident, Token![,]>::parse_terminated_with(&content, Ident::parse_any)?;
        if args.first_time("skip", key.span) {
            args.skip.extend(names);
        }
    } else if lookahead.peek(kw::tenant) {
        let key = input.parse::<kw::tenant>()?;
        input.parse::<Token![=]>()?;
        let value: Expr = input.parse()?;
        if args.first_time("tenant", key.span) {
            args.tenant = Some(value);
        }
    } else if lookahead.peek(kw::redact) {
        let key = input.parse::<kw::redact>()?;
        let content;
        syn::parenthesized!(content in input);
        let keys = Punctuated::<LitStr, Token![,]>::parse_terminated(&content)?;
        for empty in keys.iter().filter(|key| key.value().trim().is_empty()) {
            args.error(empty.span(), "`redact` keys must not be empty: `redact(\"iban\")`");
        }
        if args.first_time("redact", key.span) {
            args.redact.extend(keys);
        }
    } else if lookahead.peek(kw::catalogue) {
        let key = input.parse::<kw::catalogue>()?;
        input.parse::<Token![=]>()?;
        let value = literal(
            input,
            "catalogue",
            "catalogue = \"../audit.toml\"",
            "naming the action catalogue, relative to this file",
        )?;
        if args.first_time("catalogue", key.span) {
            args.catalogue = Some(value);
        }
    } else if input.peek(Ident::peek_any) {
        // An unknown word: say which, suggest the closest, list them all.
        let unknown = input.call(Ident::parse_any)?;
        let name = unknown.to_string();
        let hint = rules::closest(&name, ARGUMENTS.iter().copied())
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default();
        return Err(syn::Error::new(
            unknown.span(),
            format!("unknown argument `{name}`{hint}; expected one of {}", list(ARGUMENTS)),
        ));
    } else {
        return Err(lookahead.error());
    }
    Ok(())
}

impl Parse for FieldArg {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.peek(LitStr) {
            let key: LitStr = input.parse()?;
            input.parse::<Token![=]>()?;
            let value = input.parse()?;
            return Ok(Self {
                key: key.value(),
                key_span: key.span(),
                value: FieldValue::Expr(value),
            });
        }
        let key = input.call(Ident::parse_any)?;
        let value = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            FieldValue::Expr(input.parse()?)
        } else {
            FieldValue::Argument(key.clone())
        };
        Ok(Self {
            key: key.unraw().to_string(),
            key_span: key.span(),
            value,
        })
    }
}

/// A string literal, or an error showing the expected form.
fn literal(input: ParseStream<'_>, key: &str, example: &str, why: &str) -> syn::Result<LitStr> {
    if input.peek(LitStr) {
        return input.parse();
    }
    let found: Expr = input.parse()?;
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(" {why}")
    };
    Err(syn::Error::new(
        found.span(),
        format!("`{key}` takes a string literal{why}: `{example}`"),
    ))
}

/// Looks the literal up in `table`; an error lists the accepted values.
fn one_of(args: &mut AuditedArgs, value: &LitStr, what: &str, table: &[(&str, &'static str)]) -> Option<&'static str> {
    let text = value.value();
    if let Some((_, variant)) = table.iter().find(|(name, _)| *name == text) {
        return Some(variant);
    }
    let names: Vec<&str> = table.iter().map(|(name, _)| *name).collect();
    let lower = text.to_lowercase();
    let hint = rules::closest(&lower, names.iter().copied())
        .map(|close| format!(" (did you mean `{close}`?)"))
        .unwrap_or_default();
    args.error(
        value.span(),
        format!(
            "unknown {what} `{}`{hint}; expected one of {}",
            text.escape_debug(),
            list(&names)
        ),
    );
    None
}

/// "`a`, `b`, `c`"
pub(crate) fn list(names: &[&str]) -> String {
    names
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ")
}
