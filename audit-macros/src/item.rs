//! The item `#[audited]` is put on: any function or method, with or without
//! a body (a trait method without one is an error, reported by `expand`).
//!
//! The body is kept as tokens: it is re-emitted as written, and rustc (not
//! syn) reports whatever is wrong inside it. It is parsed into statements
//! only for a non-`async` function, to find a returned `async` block.

use proc_macro2::TokenStream;
use syn::parse::{Parse, ParseStream};
use syn::{Attribute, FnArg, Pat, Signature, Token, Visibility, braced, token};

pub(crate) struct AuditedFn {
    pub(crate) attrs: Vec<Attribute>,
    pub(crate) vis: Visibility,
    pub(crate) sig: Signature,
    /// `None` for a bodiless trait method (`fn f(&self);`).
    pub(crate) body: Option<Body>,
}

pub(crate) struct Body {
    pub(crate) brace: token::Brace,
    pub(crate) inner_attrs: Vec<Attribute>,
    pub(crate) stmts: TokenStream,
}

impl Parse for AuditedFn {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let vis = input.parse()?;
        let sig = input.parse()?;
        let body = if input.peek(Token![;]) {
            input.parse::<Token![;]>()?;
            None
        } else {
            let content;
            let brace = braced!(content in input);
            let inner_attrs = content.call(Attribute::parse_inner)?;
            let stmts = content.parse()?;
            Some(Body {
                brace,
                inner_attrs,
                stmts,
            })
        };
        Ok(Self { attrs, vis, sig, body })
    }
}

/// A name the function's arguments bind, and whether it is a plain
/// `name: Type` argument (the only kind captured by default).
pub(crate) struct Binding {
    pub(crate) ident: syn::Ident,
    pub(crate) plain: bool,
}

impl AuditedFn {
    /// Every name the arguments bind, `self` first if there is a receiver.
    pub(crate) fn bindings(&self) -> Vec<Binding> {
        let mut bindings = Vec::new();
        for input in &self.sig.inputs {
            match input {
                FnArg::Receiver(receiver) => bindings.push(Binding {
                    ident: syn::Ident::new("self", receiver.self_token.span),
                    plain: false,
                }),
                FnArg::Typed(typed) => match &*typed.pat {
                    Pat::Ident(pat) if pat.subpat.is_none() && pat.by_ref.is_none() => bindings.push(Binding {
                        ident: pat.ident.clone(),
                        plain: pat.ident != "self",
                    }),
                    pat => collect_pattern(pat, &mut bindings),
                },
            }
        }
        bindings
    }

    pub(crate) fn has_receiver(&self) -> bool {
        matches!(self.sig.inputs.first(), Some(FnArg::Receiver(_)))
    }
}

/// Names bound inside a destructuring pattern (`Path(id)`, `(a, b)`, `Point { x, .. }`).
fn collect_pattern(pat: &Pat, out: &mut Vec<Binding>) {
    let mut push = |ident: &syn::Ident| {
        out.push(Binding {
            ident: ident.clone(),
            plain: false,
        });
    };
    match pat {
        Pat::Ident(pat) => {
            push(&pat.ident);
            if let Some((_, sub)) = &pat.subpat {
                collect_pattern(sub, out);
            }
        }
        Pat::Tuple(tuple) => tuple.elems.iter().for_each(|p| collect_pattern(p, out)),
        Pat::TupleStruct(tuple) => tuple.elems.iter().for_each(|p| collect_pattern(p, out)),
        Pat::Struct(strukt) => strukt.fields.iter().for_each(|f| collect_pattern(&f.pat, out)),
        Pat::Slice(slice) => slice.elems.iter().for_each(|p| collect_pattern(p, out)),
        Pat::Reference(reference) => collect_pattern(&reference.pat, out),
        Pat::Paren(paren) => collect_pattern(&paren.pat, out),
        Pat::Type(typed) => collect_pattern(&typed.pat, out),
        Pat::Or(or) => {
            if let Some(first) = or.cases.first() {
                collect_pattern(first, out);
            }
        }
        _ => {}
    }
}
