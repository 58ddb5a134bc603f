//! `#[derive(Auditable)]`: parsing the `#[audit(...)]` attributes and
//! generating `impl AuditState` and `impl Auditable`.

use proc_macro2::{Span, TokenStream, TokenTree};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::ParseStream;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, Ident, LitStr, Type};

use crate::rules;

mod kw {
    syn::custom_keyword!(target);
    syn::custom_keyword!(id);
    syn::custom_keyword!(name);
    syn::custom_keyword!(redact);
    syn::custom_keyword!(skip);
    syn::custom_keyword!(personal);
}

const FIELD_ATTRIBUTES: &str = "`id`, `name`, `personal`, `redact`, `skip`";

#[derive(Default)]
struct FieldMarks {
    id: Option<Span>,
    name: Option<Span>,
    redact: Option<Span>,
    skip: Option<Span>,
    personal: Option<Span>,
    /// The marks in the order written, to point a conflict at the later one.
    order: Vec<&'static str>,
}

impl FieldMarks {
    fn later(&self, a: &str, b: &str) -> bool {
        let position = |word| self.order.iter().position(|w| *w == word);
        position(b) > position(a)
    }
}

struct AuditField {
    ident: Ident,
    ty: Type,
    marks: FieldMarks,
}

pub(crate) fn auditable(input: TokenStream) -> TokenStream {
    let input = match syn::parse2::<DeriveInput>(input) {
        Ok(input) => input,
        Err(error) => return error.to_compile_error(),
    };
    let mut errors = Vec::new();
    let target = container_target(&input, &mut errors);
    let before_fields = errors.len();
    let fields = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(named) => named
                .named
                .iter()
                .map(|field| AuditField {
                    ident: field.ident.clone().unwrap_or_else(|| Ident::new("_", field.span())),
                    ty: field.ty.clone(),
                    marks: field_marks(&field.attrs, &mut errors),
                })
                .collect::<Vec<_>>(),
            Fields::Unnamed(unnamed) => {
                errors.push(syn::Error::new(
                    unnamed.paren_token.span.join(),
                    "`#[derive(Auditable)]` needs named fields (the state is a JSON object keyed by field \
                     name); for a tuple struct, implement `Auditable` and `AuditState` by hand",
                ));
                Vec::new()
            }
            Fields::Unit => {
                errors.push(syn::Error::new(
                    input.ident.span(),
                    "`#[derive(Auditable)]` needs a struct with named fields, one of them `#[audit(id)]`",
                ));
                Vec::new()
            }
        },
        Data::Enum(data) => {
            errors.push(syn::Error::new(
                data.enum_token.span,
                "`#[derive(Auditable)]` supports structs with named fields, not enums; implement \
                 `Auditable` and `AuditState` by hand (the `Auditable` docs show how)",
            ));
            Vec::new()
        }
        Data::Union(data) => {
            errors.push(syn::Error::new(
                data.union_token.span,
                "`#[derive(Auditable)]` supports structs with named fields, not unions",
            ));
            Vec::new()
        }
    };

    // A broken `#[audit(...)]` on a field may be the missing id: do not pile on.
    let field_attributes_broken = errors.len() > before_fields;
    let id = one_marked(&fields, |m| m.id, "id", &mut errors);
    let name = one_marked(&fields, |m| m.name, "name", &mut errors);
    let is_struct = matches!(&input.data, Data::Struct(data) if matches!(data.fields, Fields::Named(_)));
    if id.is_none() && is_struct && !field_attributes_broken {
        let hint = fields
            .iter()
            .find(|f| f.ident == "id")
            .or_else(|| fields.iter().find(|f| f.ident.to_string().ends_with("_id")))
            .map(|f| format!("; e.g. put `#[audit(id)]` above `{}`", f.ident))
            .unwrap_or_default();
        errors.push(syn::Error::new(
            input.ident.span(),
            format!(
                "`{}` has no `#[audit(id)]` field: `#[derive(Auditable)]` needs the field that identifies \
                 the resource, which becomes the target id of the events about it{hint}",
                input.ident
            ),
        ));
    }

    if !errors.is_empty() {
        return errors.into_iter().map(|e| e.to_compile_error()).collect();
    }
    let Some(id) = id else {
        unreachable!("errors are reported above")
    };
    generate(&input, &fields, id, name, &target)
}

/// `#[audit(target = "app")]` on the type, or the type's name in snake_case.
fn container_target(input: &DeriveInput, errors: &mut Vec<syn::Error>) -> LitStr {
    let mut target: Option<LitStr> = None;
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("audit")) {
        let parsed = attr.parse_args_with(|stream: ParseStream<'_>| {
            let lookahead = stream.lookahead1();
            if lookahead.peek(kw::target) {
                let key = stream.parse::<kw::target>()?;
                stream.parse::<syn::Token![=]>()?;
                let value: LitStr = stream.parse()?;
                if target.is_some() {
                    return Err(syn::Error::new(key.span, "`target` specified more than once"));
                }
                if let Err(message) = rules::check_target_type(&value.value()) {
                    return Err(syn::Error::new(value.span(), message));
                }
                target = Some(value);
                Ok(())
            } else if stream.peek(kw::id)
                || stream.peek(kw::name)
                || stream.peek(kw::redact)
                || stream.peek(kw::skip)
                || stream.peek(kw::personal)
            {
                let word: Ident = stream.parse()?;
                Err(syn::Error::new(
                    word.span(),
                    format!(
                        "`#[audit({word})]` goes on a field; on the type, the only attribute is `target = \"...\"`"
                    ),
                ))
            } else {
                Err(lookahead.error())
            }
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    target.unwrap_or_else(|| LitStr::new(&rules::snake_case(&input.ident.unraw_string()), input.ident.span()))
}

trait UnrawString {
    fn unraw_string(&self) -> String;
}

impl UnrawString for Ident {
    fn unraw_string(&self) -> String {
        let text = self.to_string();
        text.strip_prefix("r#").map(str::to_owned).unwrap_or(text)
    }
}

fn field_marks(attrs: &[syn::Attribute], errors: &mut Vec<syn::Error>) -> FieldMarks {
    let mut marks = FieldMarks::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("audit")) {
        let parsed = attr.parse_args_with(|stream: ParseStream<'_>| {
            loop {
                let lookahead = stream.lookahead1();
                let (slot, word, span) = if lookahead.peek(kw::id) {
                    (&mut marks.id, "id", stream.parse::<kw::id>()?.span)
                } else if lookahead.peek(kw::name) {
                    (&mut marks.name, "name", stream.parse::<kw::name>()?.span)
                } else if lookahead.peek(kw::redact) {
                    (&mut marks.redact, "redact", stream.parse::<kw::redact>()?.span)
                } else if lookahead.peek(kw::skip) {
                    (&mut marks.skip, "skip", stream.parse::<kw::skip>()?.span)
                } else if lookahead.peek(kw::personal) {
                    (&mut marks.personal, "personal", stream.parse::<kw::personal>()?.span)
                } else if stream.peek(kw::target) {
                    let key = stream.parse::<kw::target>()?;
                    return Err(syn::Error::new(
                        key.span,
                        "`target = \"...\"` goes on the type, not on a field",
                    ));
                } else if stream.peek(Ident) {
                    let word: Ident = stream.parse()?;
                    let hint = rules::closest(&word.to_string(), ["id", "name", "personal", "redact", "skip"])
                        .map(|close| format!(" (did you mean `{close}`?)"))
                        .unwrap_or_default();
                    return Err(syn::Error::new(
                        word.span(),
                        format!("unknown field attribute `{word}`{hint}; expected one of {FIELD_ATTRIBUTES}"),
                    ));
                } else {
                    return Err(lookahead.error());
                };
                if slot.is_some() {
                    errors.push(syn::Error::new(span, format!("`{word}` specified more than once")));
                }
                *slot = Some(span);
                marks.order.push(word);
                if stream.is_empty() {
                    return Ok(());
                }
                stream.parse::<syn::Token![,]>()?;
                if stream.is_empty() {
                    return Ok(());
                }
            }
        });
        if let Err(error) = parsed {
            errors.push(error);
        }
    }
    let mut conflict = |first: (&str, Option<Span>), second: (&str, Option<Span>), message: &str| {
        if let ((first_word, Some(first)), (second_word, Some(second))) = (first, second) {
            // Point at whichever was written later.
            let at = if marks.later(first_word, second_word) {
                second
            } else {
                first
            };
            errors.push(syn::Error::new(at, message));
        }
    };
    conflict(
        ("redact", marks.redact),
        ("skip", marks.skip),
        "`redact` and `skip` conflict: a skipped field is left out of the state, a redacted one is kept \
         but masked; choose one",
    );
    conflict(
        ("personal", marks.personal),
        ("skip", marks.skip),
        "`personal` and `skip` conflict: a skipped field is left out of the state, so there is nothing to seal",
    );
    conflict(
        ("personal", marks.personal),
        ("redact", marks.redact),
        "`personal` and `redact` conflict: a redacted field is masked before it is stored, so there is nothing \
         to seal; choose one",
    );
    conflict(
        ("id", marks.id),
        ("personal", marks.personal),
        "the `id` field cannot be personal: it becomes the event's target id, which stays readable so that a \
         subject's events can be found and erased; mark the personal fields instead",
    );
    conflict(
        ("id", marks.id),
        ("skip", marks.skip),
        "the `id` field cannot be skipped: the id is part of the resource's state and names it as the target",
    );
    conflict(
        ("id", marks.id),
        ("redact", marks.redact),
        "the `id` field cannot be redacted: it becomes the event's target id, which is never masked; \
         if this value is secret, mark another field `#[audit(id)]`",
    );
    conflict(
        ("name", marks.name),
        ("redact", marks.redact),
        "the `name` field cannot be redacted: it becomes the event's target name, which is never masked",
    );
    marks
}

/// The one field carrying a mark; a second is an error at its attribute.
fn one_marked<'a>(
    fields: &'a [AuditField],
    mark: impl Fn(&FieldMarks) -> Option<Span>,
    word: &str,
    errors: &mut Vec<syn::Error>,
) -> Option<&'a AuditField> {
    let mut found: Option<&AuditField> = None;
    for field in fields {
        if let Some(span) = mark(&field.marks) {
            match found {
                Some(first) => errors.push(syn::Error::new(
                    span,
                    format!("only one field can be `#[audit({word})]`; `{}` already is", first.ident),
                )),
                None => found = Some(field),
            }
        }
    }
    found
}

/// Whether `ty` mentions one of the type's generic type parameters.
fn mentions(ty: &Type, params: &[Ident]) -> bool {
    fn walk(tokens: TokenStream, params: &[Ident]) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => params.contains(&ident),
            TokenTree::Group(group) => walk(group.stream(), params),
            _ => false,
        })
    }
    !params.is_empty() && walk(ty.to_token_stream(), params)
}

fn generate(
    input: &DeriveInput,
    fields: &[AuditField],
    id: &AuditField,
    name: Option<&AuditField>,
    target: &LitStr,
) -> TokenStream {
    let ident = &input.ident;
    let type_params: Vec<Ident> = input.generics.type_params().map(|p| p.ident.clone()).collect();
    let mut generics = input.generics.clone();
    let where_clause = generics.make_where_clause();

    let mut entries = Vec::new();
    let personal: Vec<LitStr> = fields
        .iter()
        .filter(|field| field.marks.personal.is_some())
        .map(|field| LitStr::new(&field.ident.unraw_string(), field.ident.span()))
        .collect();
    let personal_fn = (!personal.is_empty()).then(|| {
        quote! {
            fn audit_personal_fields(&self) -> &'static [&'static str] {
                &[#(#personal),*]
            }
        }
    });
    for field in fields {
        if field.marks.skip.is_some() {
            continue;
        }
        let field_ident = &field.ident;
        let key = LitStr::new(&field_ident.unraw_string(), field_ident.span());
        if field.marks.redact.is_some() {
            entries.push(quote!((#key, ::audit_core::__private::redacted())));
            continue;
        }
        let ty = &field.ty;
        if mentions(ty, &type_params) {
            where_clause
                .predicates
                .push(syn::parse_quote_spanned!(ty.span()=> #ty: ::audit_core::__private::Serialize));
        }
        entries.push(quote_spanned! {ty.span()=>
            (#key, (&&::audit_core::__private::StateField(&self.#field_ident)).__audit_kind().value(&self.#field_ident))
        });
    }
    let id_ident = &id.ident;
    let id_ty = &id.ty;
    if mentions(id_ty, &type_params) {
        where_clause
            .predicates
            .push(syn::parse_quote_spanned!(id_ty.span()=> #id_ty: ::audit_core::__private::Display));
    }
    let id_value = quote_spanned!(id_ty.span()=> ::audit_core::__private::display(&self.#id_ident));
    let name_fn = name.map(|name| {
        let name_ident = &name.ident;
        let name_ty = &name.ty;
        let value = quote_spanned! {name_ty.span()=>
            (&&::audit_core::__private::MaybeDisplay(&self.#name_ident)).__audit_kind().text(&self.#name_ident)
        };
        quote! {
            fn audit_name(&self) -> ::core::option::Option<::audit_core::__private::String> {
                #[allow(unused_imports)]
                use ::audit_core::__private::{DisplayOption as _, DisplayValue as _};
                #value
            }
        }
    });
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();

    quote! {
        #[automatically_derived]
        impl #impl_generics ::audit_core::__private::AuditState for #ident #ty_generics #where_clause {
            fn audit_state(&self) -> ::audit_core::__private::serde_json::Value {
                #[allow(unused_imports)]
                use ::audit_core::__private::{StateOfAuditState as _, StateOfSerialize as _};
                ::audit_core::__private::object([#(#entries),*])
            }

            fn audit_target(&self) -> ::core::option::Option<::audit_core::__private::Target> {
                ::core::option::Option::Some(::audit_core::__private::Auditable::audit_target_ref(self))
            }

            #personal_fn
        }

        #[automatically_derived]
        impl #impl_generics ::audit_core::__private::Auditable for #ident #ty_generics #where_clause {
            fn audit_target_type(&self) -> &'static str {
                #target
            }

            fn audit_id(&self) -> ::audit_core::__private::String {
                #id_value
            }

            #name_fn
        }
    }
}
