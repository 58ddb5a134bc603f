//! `description = "Deleted app {id}"`: a format string whose placeholders
//! name the function's arguments, or fields of them (`{app.name}`,
//! `{self.id}`), with an optional format spec (`{amount:.2}`).
//!
//! The string is taken apart here so an unknown name is a compile error that
//! says which placeholder and lists the arguments; it is then rebuilt with
//! positional `{}` holes for `format!`.

/// A description as written, split into what `format!` needs.
#[derive(Debug, PartialEq)]
pub(crate) enum Template {
    /// No placeholders: the text, with `{{`/`}}` already unescaped.
    Plain(String),
    /// A `format!` string with positional holes, and what fills each one.
    Format { format: String, holes: Vec<Hole> },
}

/// `{app.name:>8}` → root `app`, fields `["name"]`.
#[derive(Debug, PartialEq)]
pub(crate) struct Hole {
    pub(crate) root: String,
    pub(crate) fields: Vec<String>,
    /// The placeholder as written, for error messages.
    pub(crate) written: String,
}

pub(crate) fn parse(text: &str) -> Result<Template, String> {
    let mut format = String::with_capacity(text.len());
    let mut plain = String::with_capacity(text.len());
    let mut holes = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '{' if chars.peek() == Some(&'{') => {
                chars.next();
                format.push_str("{{");
                plain.push('{');
            }
            '}' if chars.peek() == Some(&'}') => {
                chars.next();
                format.push_str("}}");
                plain.push('}');
            }
            '}' => return Err("unmatched `}` in `description`; write `}}` for a literal brace".to_owned()),
            '{' => {
                let mut inside = String::new();
                loop {
                    match chars.next() {
                        Some('}') => break,
                        Some('{') | None => {
                            return Err(format!(
                                "unclosed placeholder `{{{inside}` in `description`; close it with `}}`, \
                                 or write `{{{{` for a literal brace"
                            ));
                        }
                        Some(c) => inside.push(c),
                    }
                }
                let (path, spec) = match inside.split_once(':') {
                    Some((path, spec)) => (path, Some(spec)),
                    None => (inside.as_str(), None),
                };
                let hole = parse_path(path).ok_or_else(|| {
                    format!(
                        "placeholder `{{{inside}}}` in `description` must name an argument of the function, \
                         like `{{id}}` or `{{app.name}}`; positional and computed placeholders are not supported"
                    )
                })?;
                format.push('{');
                if let Some(spec) = spec {
                    format.push(':');
                    format.push_str(spec);
                }
                format.push('}');
                holes.push(Hole {
                    written: format!("{{{inside}}}"),
                    ..hole
                });
            }
            c => {
                format.push(c);
                plain.push(c);
            }
        }
    }
    Ok(if holes.is_empty() {
        Template::Plain(plain)
    } else {
        Template::Format { format, holes }
    })
}

/// `app.name.0` → root and fields; `None` if it is not such a path.
fn parse_path(path: &str) -> Option<Hole> {
    let mut parts = path.split('.');
    let root = parts.next()?;
    if !is_ident(root) {
        return None;
    }
    let fields = parts
        .map(|field| {
            let named = field != "self" && is_ident(field);
            let index = !field.is_empty() && field.bytes().all(|b| b.is_ascii_digit());
            (named || index).then(|| field.to_owned())
        })
        .collect::<Option<Vec<_>>>()?;
    Some(Hole {
        root: root.to_owned(),
        fields,
        written: String::new(),
    })
}

/// A Rust identifier that can name a binding (not a keyword), or `self`.
fn is_ident(text: &str) -> bool {
    text == "self" || syn::parse_str::<syn::Ident>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hole(root: &str, fields: &[&str], written: &str) -> Hole {
        Hole {
            root: root.into(),
            fields: fields.iter().map(|f| (*f).to_owned()).collect(),
            written: written.into(),
        }
    }

    #[test]
    fn plain_text_is_unescaped() {
        assert_eq!(
            parse("Rotated {{keys}}").unwrap(),
            Template::Plain("Rotated {keys}".into())
        );
    }

    #[test]
    fn placeholders_become_positional_holes() {
        assert_eq!(
            parse("Deleted {app.name} ({id:>6}) {{x}}").unwrap(),
            Template::Format {
                format: "Deleted {} ({:>6}) {{x}}".into(),
                holes: vec![hole("app", &["name"], "{app.name}"), hole("id", &[], "{id:>6}")],
            }
        );
        assert_eq!(
            parse("{self.0}").unwrap(),
            Template::Format {
                format: "{}".into(),
                holes: vec![hole("self", &["0"], "{self.0}")]
            }
        );
    }

    #[test]
    fn malformed_placeholders_say_what_to_write() {
        assert!(parse("{}").unwrap_err().contains("must name an argument"));
        assert!(parse("{0}").unwrap_err().contains("must name an argument"));
        assert!(parse("{a + b}").unwrap_err().contains("`{a + b}`"));
        assert!(parse("{id").unwrap_err().contains("unclosed"));
        assert!(parse("id}").unwrap_err().contains("unmatched `}`"));
        assert!(parse("{a.}").is_err());
        assert!(parse("{type}").is_err(), "a keyword names no argument");
        assert!(parse("{a.self}").is_err());
    }
}
