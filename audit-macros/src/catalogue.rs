//! The action catalogue: a crate's `audit.toml`, which declares every action
//! the crate records, so that a typo in `#[audited(action = "...")]` is a
//! compile error instead of a new action nobody queries for.
//!
//! Where the file is: `audit.toml` beside the crate's `Cargo.toml`
//! (`CARGO_MANIFEST_DIR`), or the path given as `catalogue = "…"` to
//! `#[audited]` / as the argument of `catalogue!("…")`, relative to the file
//! holding that call like `include_str!`'s (a shared catalogue in a
//! workspace, and trybuild cases, which compile in a project of their own).
//!
//! A proc macro runs once per call in the same process, so the parsed file is
//! cached by path, modification time and length; the generated code
//! `include_bytes!`s the file so cargo rebuilds the crate when it changes.

mod parse;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::SystemTime;

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::LitStr;

use crate::rules;

pub(crate) mod constants;

/// The file name looked for beside `Cargo.toml`.
pub(crate) const FILE_NAME: &str = "audit.toml";

/// A parsed, checked `audit.toml`.
#[derive(Debug)]
pub(crate) struct Catalogue {
    /// The file, absolute, for `include_bytes!`.
    pub(crate) path: PathBuf,
    /// The file as errors name it: relative to the crate when inside it.
    pub(crate) shown: String,
    /// In declaration order.
    pub(crate) actions: Vec<DeclaredAction>,
}

/// One `[actions."app.created"]` table.
#[derive(Debug)]
pub(crate) struct DeclaredAction {
    pub(crate) name: String,
    /// The `Category` variant: as declared, else derived from the name.
    pub(crate) category: &'static str,
    /// The `Severity` variant, when declared.
    pub(crate) severity: Option<&'static str>,
    pub(crate) description: String,
    /// Keys and `MetadataType` variants, in declaration order.
    pub(crate) metadata: Vec<(String, &'static str)>,
}

impl Catalogue {
    pub(crate) fn get(&self, name: &str) -> Option<&DeclaredAction> {
        self.actions.iter().find(|action| action.name == name)
    }

    /// `const _: &[u8] = include_bytes!("…");`: makes the crate depend on the
    /// file, so editing it recompiles the code checked against it.
    pub(crate) fn tracking(&self) -> TokenStream {
        let path = self.path.to_string_lossy();
        quote!(
            const _: &[u8] = ::core::include_bytes!(#path);
        )
    }

    /// The error for an action missing from this catalogue, with the nearest
    /// declared name when one is close enough to be a typo.
    pub(crate) fn unknown_action(&self, name: &str) -> String {
        let mut message = format!("action `{name}` is not declared in `{}`", self.shown);
        match rules::closest_action(name, self.actions.iter().map(|action| action.name.as_str())) {
            Some(close) => {
                let _ = write!(message, "; did you mean `{close}`?");
            }
            None => {
                let _ = write!(
                    message,
                    "; declared: {}",
                    crate::attr::list(&self.actions.iter().map(|a| a.name.as_str()).collect::<Vec<_>>())
                );
            }
        }
        let _ = write!(
            message,
            "\nif it is a new action, declare it in `{}`:\n[actions.\"{name}\"]\ndescription = \"…\"",
            self.shown
        );
        message
    }
}

/// Where a call's catalogue is, if it has one: `catalogue = "…"` when
/// given (resolved against the calling file's folder, then the crate's),
/// otherwise `audit.toml` beside `Cargo.toml` when that file exists.
///
/// # Errors
/// A given path that does not name a file, spanned on the literal.
pub(crate) fn locate(given: Option<&LitStr>) -> syn::Result<Option<PathBuf>> {
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
    let Some(given) = given else {
        return Ok(manifest_dir
            .map(|dir| dir.join(FILE_NAME))
            .filter(|path| path.is_file())
            .map(|path| std::fs::canonicalize(&path).unwrap_or(path)));
    };
    let written = PathBuf::from(given.value());
    let candidates: Vec<PathBuf> = if written.is_absolute() {
        vec![written.clone()]
    } else {
        // Spans of code expanded by rustdoc or another macro may have no file;
        // outside a macro call (unit tests) there is no compiler to ask.
        let calling_dir = proc_macro::is_available()
            .then(|| given.span().unwrap().local_file())
            .flatten()
            .and_then(|file| file.parent().map(Path::to_path_buf));
        calling_dir
            .into_iter()
            .chain(manifest_dir)
            .map(|dir| dir.join(&written))
            .collect()
    };
    match candidates.iter().find(|path| path.is_file()) {
        // Absolute for `include_bytes!`, which resolves a relative path
        // against the calling file (rustdoc reports files relative to the
        // workspace, so `found` may be relative to the current directory).
        Some(found) => Ok(Some(std::fs::canonicalize(found).unwrap_or_else(|_| found.clone()))),
        None => Err(syn::Error::new(
            given.span(),
            format!(
                "no catalogue file at `{}`: the path is relative to the file of this call \
                 (as for `include_str!`); without `catalogue = …`, `{FILE_NAME}` beside Cargo.toml is used",
                written.display()
            ),
        )),
    }
}

type Cached = (SystemTime, u64, Arc<Result<Catalogue, String>>);

/// The catalogue at `path`, parsed once per version of the file.
///
/// # Errors
/// The file cannot be read or is invalid: the message names the file, the
/// line and column, the key and what is wrong.
pub(crate) fn load(path: &Path) -> Arc<Result<Catalogue, String>> {
    static CACHE: OnceLock<Mutex<HashMap<PathBuf, Cached>>> = OnceLock::new();
    let shown = shown_path(path);
    let stamp = std::fs::metadata(path).and_then(|meta| Ok((meta.modified()?, meta.len())));
    let Ok((modified, len)) = stamp else {
        return Arc::new(Err(format!("cannot read `{shown}`")));
    };
    let cache = CACHE.get_or_init(Mutex::default);
    if let Some((_, _, parsed)) = cache
        .lock()
        .ok()
        .and_then(|map| map.get(path).cloned())
        .filter(|&(at, size, _)| at == modified && size == len)
    {
        return parsed;
    }
    let parsed = Arc::new(match std::fs::read_to_string(path) {
        Ok(text) => parse::catalogue(&text, &shown).map(|actions| Catalogue {
            path: path.to_path_buf(),
            shown,
            actions,
        }),
        Err(error) => Err(format!("cannot read `{shown}`: {error}")),
    });
    if let Ok(mut map) = cache.lock() {
        map.insert(path.to_path_buf(), (modified, len, Arc::clone(&parsed)));
    }
    parsed
}

/// The catalogue a call is checked against: `None` when the crate has none.
///
/// # Errors
/// A missing `catalogue = …` file (on the literal) or an invalid file (at
/// `span`, the call).
pub(crate) fn for_call(given: Option<&LitStr>, span: Span) -> syn::Result<Option<Arc<Result<Catalogue, String>>>> {
    let Some(path) = locate(given)? else {
        return Ok(None);
    };
    let loaded = load(&path);
    if let Err(message) = loaded.as_ref() {
        return Err(syn::Error::new(span, message));
    }
    Ok(Some(loaded))
}

/// `path` relative to the crate when it is inside it: errors (and the
/// `.stderr` files of UI tests) then do not name the machine's folders.
fn shown_path(path: &Path) -> String {
    std::env::var_os("CARGO_MANIFEST_DIR")
        .and_then(|dir| std::fs::canonicalize(dir).ok())
        .and_then(|dir| path.strip_prefix(dir).ok().map(Path::to_path_buf))
        .unwrap_or_else(|| path.to_path_buf())
        .display()
        .to_string()
}
