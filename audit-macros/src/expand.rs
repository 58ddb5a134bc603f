//! Code generation for `#[audited(...)]`.
//!
//! ```text
//! #[audited(action = "app.deleted", target = "app", target_id = id)]
//! async fn delete_app(db: &Db, id: u64) -> Result<(), Error> { BODY }
//! ```
//! becomes, in outline (every path absolute, every local `__audit_`-prefixed
//! and hygienic):
//! ```text
//! async fn delete_app(db: &Db, id: u64) -> Result<(), Error> {
//!     static __AUDIT_ACTION: ActionCell = ActionCell::new("app.deleted");
//!     let __audit_guard = Guard::open(&__AUDIT_ACTION);        // the draft
//!     { evaluate target/tenant/description/fields by reference; guard.update(..) }
//!     let __audit_output = __audit_guard.draft().scoped(async move {
//!         if false { let r: Result<(), Error> = loop {}; return r; }  // pins the type for `?`
//!         BODY
//!     }).await;
//!     complete(__audit_guard, &__audit_output);                 // Ok / Err / value
//!     __audit_output
//! }
//! ```
//! A sync fn runs `BODY` in `draft.run_sync(move || ..)` instead; a sync fn
//! returning `async move {..}` or `Box::pin(async move {..})` (hand-written,
//! or `#[async_trait]`'s output) gets the returned future wrapped.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, quote, quote_spanned};
use syn::ext::IdentExt as _;
use syn::parse::Parser as _;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{
    Block, Expr, ExprAsync, GenericArgument, Ident, LitStr, PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

use crate::attr::{self, AuditedArgs, FieldValue, TargetArg};
use crate::catalogue;
use crate::describe::{self, Template};
use crate::item::{AuditedFn, Binding};
use crate::rules;

pub(crate) fn audited(args: TokenStream, item: TokenStream) -> TokenStream {
    let parsed_args = syn::parse2::<AuditedArgs>(args);
    let Ok(function) = syn::parse2::<AuditedFn>(item.clone()) else {
        let mut errors = match parsed_args {
            Ok(args) => args.errors,
            Err(error) => vec![error],
        };
        // Some other item: say so. Not an item at all: re-emit it as is and
        // let rustc report the syntax error where it is.
        if let Ok(other) = syn::parse2::<syn::Item>(item.clone()) {
            errors.push(syn::Error::new_spanned(
                item_head(&other),
                "`#[audited]` goes on a function or method (an `async fn`, a method in an `impl` or \
                 `trait` with a body, or a plain `fn`)",
            ));
        }
        return reemit(item, errors);
    };
    let args = match parsed_args {
        Ok(args) => args,
        Err(error) => return reemit(item, vec![error]),
    };
    match plan(args, &function) {
        Ok(plan) => generate(&function, &plan),
        Err(errors) => reemit(item, errors),
    }
}

/// The item unchanged, then the errors: the function still exists, so its
/// callers do not fail too.
fn reemit(item: TokenStream, errors: Vec<syn::Error>) -> TokenStream {
    let mut out = item;
    for error in errors {
        out.extend(error.to_compile_error());
    }
    out
}

/// The keyword and name of an item, to point an error at.
fn item_head(item: &syn::Item) -> TokenStream {
    match item {
        syn::Item::Struct(item) => quote_pair(&item.struct_token, &item.ident),
        syn::Item::Enum(item) => quote_pair(&item.enum_token, &item.ident),
        syn::Item::Union(item) => quote_pair(&item.union_token, &item.ident),
        syn::Item::Trait(item) => quote_pair(&item.trait_token, &item.ident),
        syn::Item::Mod(item) => quote_pair(&item.mod_token, &item.ident),
        syn::Item::Const(item) => quote_pair(&item.const_token, &item.ident),
        syn::Item::Static(item) => quote_pair(&item.static_token, &item.ident),
        syn::Item::Type(item) => quote_pair(&item.type_token, &item.ident),
        syn::Item::Impl(item) => item.impl_token.to_token_stream(),
        syn::Item::Use(item) => item.use_token.to_token_stream(),
        other => other.to_token_stream(),
    }
}

fn quote_pair(keyword: &impl ToTokens, name: &Ident) -> TokenStream {
    quote!(#keyword #name)
}

/// Everything the generated code needs, checked against the function.
struct Plan {
    action: LitStr,
    /// Makes the crate depend on its action catalogue, when it has one.
    catalogue_tracking: TokenStream,
    shape: Shape,
    /// Statements evaluating the arguments' expressions, before the draft is edited.
    prelude: Vec<TokenStream>,
    /// Builder edits, each `let __audit_builder = …;`.
    edits: Vec<TokenStream>,
}

enum Shape {
    Async,
    Sync,
    /// A sync fn whose body ends in a (possibly `Box::pin`-ed) async block.
    ReturnsFuture(Box<ReturnedFuture>),
}

struct ReturnedFuture {
    /// The statements before the returned future.
    stmts: Vec<Stmt>,
    /// `Box::pin`, as written, if the future is pinned.
    pin: Option<Expr>,
    future: ExprAsync,
}

fn plan(mut args: AuditedArgs, function: &AuditedFn) -> Result<Plan, Vec<syn::Error>> {
    let bindings = function.bindings();
    let mut planner = Planner {
        names: bindings.iter().map(|b| b.ident.to_string()).collect(),
        errors: std::mem::take(&mut args.errors),
        prelude: Vec::new(),
        edits: Vec::new(),
        builder: local("__audit_builder"),
        args: &args,
        function,
    };
    if let Some(constness) = &function.sig.constness {
        planner.errors.push(syn::Error::new(
            constness.span,
            "`#[audited]` cannot go on a `const fn`: recording an event is a side effect",
        ));
    }
    let shape = shape(function).map_err(|error| planner.errors.push(error)).ok();
    if args.action.is_none() {
        planner.errors.push(syn::Error::new(
            Span::call_site(),
            "missing `action`: name what the function does, e.g. `#[audited(action = \"app.deleted\")]` \
             (dotted lowercase: resource, then what happened to it)",
        ));
    }
    let catalogue_tracking = planner.catalogue();
    planner.target();
    planner.tenant();
    planner.severity_and_category();
    planner.description();
    planner.check_skip();
    planner.default_capture(&bindings);
    planner.fields();
    planner.redact();

    let Planner {
        errors, prelude, edits, ..
    } = planner;
    match (errors.is_empty(), args.action, shape) {
        (true, Some(action), Some(shape)) => Ok(Plan {
            action,
            catalogue_tracking,
            shape,
            prelude,
            edits,
        }),
        _ => Err(errors),
    }
}

/// Turns the attribute's arguments into generated statements, collecting errors.
struct Planner<'a> {
    args: &'a AuditedArgs,
    function: &'a AuditedFn,
    /// The names the function's arguments bind.
    names: Vec<String>,
    errors: Vec<syn::Error>,
    prelude: Vec<TokenStream>,
    edits: Vec<TokenStream>,
    builder: Ident,
}

impl Planner<'_> {
    /// "`x` in `fields` is not an argument of `f` (did you mean `id`?); its arguments are …"
    fn unknown(&mut self, what: &str, name: &str, span: Span, extra: &str) {
        let fn_name = self.function.sig.ident.to_string();
        let hint = rules::closest(name, self.names.iter().map(String::as_str))
            .map(|close| format!(" (did you mean `{close}`?)"))
            .unwrap_or_default();
        let known = if self.names.is_empty() {
            format!("`{fn_name}` takes no arguments")
        } else {
            let names: Vec<&str> = self.names.iter().map(String::as_str).collect();
            format!("its arguments are {}", attr::list(&names))
        };
        self.errors.push(syn::Error::new(
            span,
            format!("`{name}` in `{what}` is not an argument of `{fn_name}`{hint}; {known}{extra}"),
        ));
    }

    fn error(&mut self, span: Span, message: impl std::fmt::Display) {
        self.errors.push(syn::Error::new(span, message));
    }

    /// `target = "type", target_id = <expr>` or `target = <resource>`.
    fn target(&mut self) {
        let builder = &self.builder;
        match (&self.args.target, &self.args.target_id) {
            (Some(TargetArg::Type(kind)), Some((_, id))) => {
                let span = id.span();
                let target = prelude_local("__audit_target", span);
                self.prelude.push(quote_spanned! {span=>
                    let #target =
                        ::audit_core::__private::Target::new(#kind, ::audit_core::__private::display(&(#id)));
                });
                self.edits.push(quote!(let #builder = #builder.target(#target);));
            }
            (Some(TargetArg::Resource(resource)), None) => {
                let span = resource.span();
                let target = prelude_local("__audit_target", span);
                self.prelude.push(quote_spanned! {span=>
                    let #target = ::audit_core::__private::target_of(&(#resource));
                });
                self.edits.push(quote!(let #builder = #builder.target(#target);));
            }
            (Some(TargetArg::Type(kind)), None) => {
                let message = format!(
                    "`target = {:?}` names the type of the resource; add `target_id = <expr>` for its id, \
                     or pass the resource itself, `target = <expr>`, if its type is `Auditable`",
                    kind.value()
                );
                self.error(kind.span(), message);
            }
            (Some(TargetArg::Resource(_)), Some((span, _))) => self.error(
                *span,
                "`target_id` goes with `target = \"<type>\"`; `target = <expr>` takes the id from the \
                 `Auditable` value",
            ),
            (None, Some((span, _))) => self.error(
                *span,
                "`target_id` needs `target = \"<type>\"` too, e.g. `target = \"app\", target_id = id`",
            ),
            (None, None) => {}
        }
    }

    /// `tenant = <expr>`: a `Display` value, or an `Option` of one.
    fn tenant(&mut self) {
        let Some(tenant) = &self.args.tenant else { return };
        let builder = &self.builder;
        let span = tenant.span();
        let value = prelude_local("__audit_tenant", span);
        self.prelude.push(quote_spanned! {span=>
            let #value = &(#tenant);
            let #value = (&&::audit_core::__private::MaybeDisplay(#value)).__audit_kind().text(#value);
        });
        self.edits
            .push(quote!(let #builder = ::audit_core::__private::with_tenant(#builder, #value);));
    }

    /// The action must be declared in the crate's catalogue, when it has one;
    /// its declared severity and category apply unless the attribute sets them.
    /// Returns the tokens that make the crate depend on the file.
    fn catalogue(&mut self) -> TokenStream {
        let Some(action) = &self.args.action else {
            return TokenStream::new();
        };
        let name = action.value();
        if rules::check_action(&name).is_err() {
            // Already reported while parsing; a lookup would only add noise.
            return TokenStream::new();
        }
        let loaded = match catalogue::for_call(self.args.catalogue.as_ref(), Span::call_site()) {
            Ok(Some(loaded)) => loaded,
            Ok(None) => return TokenStream::new(),
            Err(error) => {
                self.errors.push(error);
                return TokenStream::new();
            }
        };
        let Ok(catalogue) = loaded.as_ref() else {
            return TokenStream::new();
        };
        let Some(declared) = catalogue.get(&name) else {
            self.errors
                .push(syn::Error::new(action.span(), catalogue.unknown_action(&name)));
            return TokenStream::new();
        };
        let builder = &self.builder;
        if let (None, Some(variant)) = (&self.args.severity, declared.severity) {
            let variant = Ident::new(variant, Span::call_site());
            self.edits
                .push(quote!(let #builder = #builder.severity(::audit_core::__private::Severity::#variant);));
        }
        if self.args.category.is_none() && declared.category != rules::category_for_action(&name) {
            let variant = Ident::new(declared.category, Span::call_site());
            self.edits
                .push(quote!(let #builder = #builder.category(::audit_core::__private::Category::#variant);));
        }
        catalogue.tracking()
    }

    /// `severity = "…"`, `category = "…"`: already checked while parsing.
    fn severity_and_category(&mut self) {
        let builder = &self.builder;
        if let Some((variant, lit)) = &self.args.severity {
            let variant = Ident::new(variant, lit.span());
            self.edits
                .push(quote!(let #builder = #builder.severity(::audit_core::__private::Severity::#variant);));
        }
        if let Some((variant, lit)) = &self.args.category {
            let variant = Ident::new(variant, lit.span());
            self.edits
                .push(quote!(let #builder = #builder.category(::audit_core::__private::Category::#variant);));
        }
    }

    /// `description = "…{name}…"`: placeholders checked against the arguments.
    fn description(&mut self) {
        let Some(description) = &self.args.description else {
            return;
        };
        let span = description.span();
        let builder = self.builder.clone();
        let (format, holes) = match describe::parse(&description.value()) {
            Err(message) => return self.error(span, message),
            Ok(Template::Plain(text)) => {
                let text = LitStr::new(&text, span);
                self.edits.push(quote!(let #builder = #builder.description(#text);));
                return;
            }
            Ok(Template::Format { format, holes }) => (format, holes),
        };
        // `describe` checked that each part is `self`, an identifier or an index.
        let ident_at = |text: &str| {
            let mut ident: Ident = syn::parse_str(text).unwrap_or_else(|_| Ident::new("self", span));
            ident.set_span(span);
            ident
        };
        let mut values = Vec::new();
        for hole in &holes {
            let known = if hole.root == "self" {
                self.function.has_receiver()
            } else {
                self.names.contains(&hole.root)
            };
            if !known {
                let extra = format!(" (in the placeholder `{}`)", hole.written);
                self.unknown("description", &hole.root, span, &extra);
                continue;
            }
            let root = if hole.root == "self" {
                quote_spanned!(span=> self)
            } else {
                ident_at(&hole.root).into_token_stream()
            };
            let fields = hole.fields.iter().map(|field| match field.parse::<u32>() {
                Ok(index) => syn::Index { index, span }.into_token_stream(),
                Err(_) => ident_at(field).into_token_stream(),
            });
            values.push(quote_spanned!(span=> &(#root #(.#fields)*)));
        }
        let format = LitStr::new(&format, span);
        let text = prelude_local("__audit_description", span);
        self.prelude.push(quote_spanned! {span=>
            let #text = ::audit_core::__private::format!(#format, #(#values),*);
        });
        self.edits.push(quote!(let #builder = #builder.description(#text);));
    }

    /// `skip(...)` names must be arguments.
    fn check_skip(&mut self) {
        for name in &self.args.skip {
            let text = name.to_string();
            if !self.names.contains(&text) {
                self.unknown("skip", &text, name.span(), "");
            }
        }
    }

    /// Plain `name: Type` arguments, except `self`, `_`-prefixed names,
    /// `skip(...)`, `fields(...)` keys and an argument used as it is for the
    /// target or tenant; recorded only if their type has an audit view.
    fn default_capture(&mut self, bindings: &[Binding]) {
        let args = self.args;
        let builder = &self.builder;
        let redact_keys: Vec<String> = args.redact.iter().map(LitStr::value).collect();
        let resource = match &args.target {
            Some(TargetArg::Resource(expr)) => Some(expr),
            _ => None,
        };
        let used_as_is: Vec<String> = [
            args.target_id.as_ref().map(|(_, expr)| expr),
            resource,
            args.tenant.as_ref(),
        ]
        .into_iter()
        .flatten()
        .filter_map(plain_ident)
        .collect();
        for (index, Binding { ident, plain }) in bindings.iter().enumerate() {
            let name = ident.to_string();
            let key = ident.unraw().to_string();
            let left_out = !plain
                || name.starts_with('_')
                || args.skip.iter().any(|skip| *skip == name)
                || args.fields.iter().any(|field| field.key == key)
                || used_as_is.contains(&name);
            if left_out {
                continue;
            }
            let masked = rules::looks_secret(&key, &redact_keys);
            let key = LitStr::new(&key, ident.span());
            if masked {
                self.edits
                    .push(quote!(let #builder = ::audit_core::__private::with_masked(#builder, #key);));
            } else {
                let value = local(&format!("__audit_arg_{index}"));
                self.prelude.push(quote! {
                    let #value = (&&&::audit_core::__private::Captured(&#ident)).__audit_kind().capture(&#ident);
                });
                self.edits
                    .push(quote!(let #builder = ::audit_core::__private::with_captured(#builder, #key, #value);));
            }
        }
    }

    /// `fields(key = <expr>, name)`.
    fn fields(&mut self) {
        let builder = self.builder.clone();
        for (index, field) in self.args.fields.iter().enumerate() {
            let (expr, span) = match &field.value {
                FieldValue::Expr(expr) => (expr.to_token_stream(), expr.span()),
                FieldValue::Argument(ident) if self.names.contains(&ident.to_string()) => {
                    (ident.to_token_stream(), ident.span())
                }
                FieldValue::Argument(ident) => {
                    let extra = format!("; to record another value, write `fields({ident} = <expr>)`");
                    self.unknown("fields", &ident.to_string(), ident.span(), &extra);
                    continue;
                }
            };
            let key = LitStr::new(&field.key, field.key_span);
            let value = prelude_local(&format!("__audit_field_{index}"), span);
            // Turned into JSON here, outside the draft's lock, by tokens that
            // all sit at the expression: a type error points at it alone.
            self.prelude.push(quote_spanned! {span=>
                let #value = &(#expr);
                let #value = (&&&::audit_core::__private::Field(#value)).__audit_kind().value(#value);
            });
            self.edits
                .push(quote!(let #builder = ::audit_core::__private::with_field(#builder, #key, #value);));
        }
    }

    /// `redact("key", ...)`.
    fn redact(&mut self) {
        let builder = &self.builder;
        for key in &self.args.redact {
            self.edits.push(quote!(let #builder = #builder.redact_key(#key);));
        }
    }
}

/// `id` in `target_id = id`.
fn plain_ident(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Path(path) if path.qself.is_none() => path.path.get_ident().map(Ident::to_string),
        Expr::Reference(reference) => plain_ident(&reference.expr),
        _ => None,
    }
}

fn shape(function: &AuditedFn) -> Result<Shape, syn::Error> {
    let sig = &function.sig;
    let Some(body) = &function.body else {
        return Err(syn::Error::new(
            sig.ident.span(),
            "`#[audited]` needs a function body: put it on the method in each `impl`, \
             or give the trait method a default body",
        ));
    };
    if sig.asyncness.is_some() {
        return Ok(Shape::Async);
    }
    // A sync fn that returns a future: audit the future's work, not its creation.
    let stmts = Block::parse_within.parse2(body.stmts.clone()).ok();
    if let Some(mut stmts) = stmts
        && let Some(Stmt::Expr(tail, None)) = stmts.last()
    {
        let found = match tail {
            Expr::Async(future) => Some((None, future.clone())),
            Expr::Call(call) if call.args.len() == 1 && is_box_pin(&call.func) => match &call.args[0] {
                Expr::Async(future) => Some((Some((*call.func).clone()), future.clone())),
                _ => None,
            },
            _ => None,
        };
        if let Some((pin, future)) = found {
            stmts.pop();
            return Ok(Shape::ReturnsFuture(Box::new(ReturnedFuture { stmts, pin, future })));
        }
    }
    if let ReturnType::Type(_, ty) = &sig.output
        && returns_future(ty)
    {
        return Err(syn::Error::new(
            ty.span(),
            "`#[audited]` on a function that returns a future needs the body to end in `async move { … }` \
             or `Box::pin(async move { … })`, so the event covers the future's work; or make it an `async fn`",
        ));
    }
    Ok(Shape::Sync)
}

fn is_box_pin(func: &Expr) -> bool {
    let Expr::Path(path) = func else { return false };
    let segments: Vec<String> = path.path.segments.iter().map(|s| s.ident.to_string()).collect();
    segments.ends_with(&["Box".to_owned(), "pin".to_owned()])
}

/// `impl Future<..>`, `Pin<Box<dyn Future<..>>>`, `BoxFuture<..>`.
fn returns_future(ty: &Type) -> bool {
    future_output(ty).is_some() || last_segment_is(ty, &["BoxFuture", "LocalBoxFuture"])
}

fn last_segment_is(ty: &Type, names: &[&str]) -> bool {
    match ty {
        Type::Path(path) => path
            .path
            .segments
            .last()
            .is_some_and(|s| names.iter().any(|n| s.ident == n)),
        _ => false,
    }
}

/// The `T` of `Future<Output = T>` anywhere in `ty` (under `impl`, `dyn`, `Pin<Box<..>>`).
fn future_output(ty: &Type) -> Option<Type> {
    let from_bounds = |bounds: &syn::punctuated::Punctuated<TypeParamBound, syn::Token![+]>| {
        bounds.iter().find_map(|bound| match bound {
            TypeParamBound::Trait(tr) => {
                let last = tr.path.segments.last()?;
                if last.ident != "Future" {
                    return None;
                }
                let PathArguments::AngleBracketed(args) = &last.arguments else {
                    return None;
                };
                args.args.iter().find_map(|arg| match arg {
                    GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
                    _ => None,
                })
            }
            _ => None,
        })
    };
    match ty {
        Type::ImplTrait(imp) => from_bounds(&imp.bounds),
        Type::TraitObject(obj) => from_bounds(&obj.bounds),
        Type::Paren(paren) => future_output(&paren.elem),
        Type::Group(group) => future_output(&group.elem),
        Type::Path(path) => {
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(inner) => future_output(inner),
                _ => None,
            })
        }
        _ => None,
    }
}

/// A hygienic local: invisible to (and unable to clash with) the user's code.
fn local(name: &str) -> Ident {
    Ident::new(name, Span::mixed_site())
}

/// A local of the block that evaluates the attribute's expressions, spanned
/// at the expression it holds so errors point there. That block closes
/// before the body, so the body never sees these names.
fn prelude_local(name: &str, span: Span) -> Ident {
    Ident::new(name, span)
}

/// Replaces every `impl Trait` with `_`, so the type can annotate a `let`.
struct EraseImplTrait;

impl VisitMut for EraseImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(imp) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: syn::Token![_](imp.impl_token.span),
            });
        } else {
            syn::visit_mut::visit_type_mut(self, ty);
        }
    }
}

/// `if false { let r: T = loop {}; return r; }`: never runs, but tells type
/// inference the block's return type up front, so `?` knows which error type
/// to convert into and `return` keeps working.
fn fake_return(ty: Option<&Type>, span: Span) -> TokenStream {
    let ty = match ty {
        None => quote_spanned!(span=> ()),
        Some(Type::Never(_)) => return TokenStream::new(),
        Some(ty) => {
            let mut ty = ty.clone();
            EraseImplTrait.visit_type_mut(&mut ty);
            ty.into_token_stream()
        }
    };
    let value = Ident::new("__audit_fake_return", Span::mixed_site().located_at(span));
    quote_spanned! {span=>
        #[allow(
            unknown_lints,
            unreachable_code,
            clippy::diverging_sub_expression,
            clippy::empty_loop,
            clippy::let_unit_value,
            clippy::let_with_type_underscore,
            clippy::needless_return,
            clippy::unreachable
        )]
        if false {
            let #value: #ty = loop {};
            return #value;
        }
    }
}

fn generate(function: &AuditedFn, plan: &Plan) -> TokenStream {
    let AuditedFn {
        attrs, vis, sig, body, ..
    } = function;
    let Some(body) = body else {
        unreachable!("plan() rejects bodiless functions")
    };
    let inner_attrs = &body.inner_attrs;
    let stmts = &body.stmts;
    let action = &plan.action;
    let catalogue_tracking = &plan.catalogue_tracking;
    let guard = local("__audit_guard");
    let output = local("__audit_output");
    let future = local("__audit_future");
    let builder = local("__audit_builder");

    let setup = {
        let prelude = &plan.prelude;
        let edits = &plan.edits;
        let update = if edits.is_empty() {
            TokenStream::new()
        } else {
            quote!(#guard.update(|#builder| { #(#edits)* #builder });)
        };
        if prelude.is_empty() && edits.is_empty() {
            TokenStream::new()
        } else {
            quote! {{
                #[allow(unused_imports)]
                use ::audit_core::__private::{
                    CaptureNothing as _, CaptureResource as _, CaptureState as _,
                    DisplayOption as _, DisplayValue as _, FieldResource as _, FieldSerialize as _, FieldState as _,
                };
                #(#prelude)*
                #update
            }}
        }
    };
    let complete = quote! {{
        #[allow(unused_imports)]
        use ::audit_core::__private::{
            CompleteWithDebugError as _, CompleteWithDisplayError as _, CompleteWithOpaqueError as _,
            CompleteWithValue as _,
        };
        (&&&&::audit_core::__private::Returned(&#output)).__audit_complete(#guard);
    }};
    let (return_type, return_span) = match &sig.output {
        ReturnType::Type(_, ty) => (Some(&**ty), ty.span()),
        ReturnType::Default => (None, sig.ident.span()),
    };

    let run = match &plan.shape {
        Shape::Async => {
            let fake = fake_return(return_type, return_span);
            quote! {
                let #output = #guard.draft().scoped(async move { #fake #stmts }).await;
                #complete
                #output
            }
        }
        Shape::Sync => {
            let fake = fake_return(return_type, return_span);
            quote! {
                let #output = #guard.draft().run_sync(move || { #fake #stmts });
                #complete
                #output
            }
        }
        Shape::ReturnsFuture(returned) => {
            let ReturnedFuture {
                stmts,
                pin,
                future: async_block,
            } = &**returned;
            let mut async_block = async_block.clone();
            if let Some(output_type) = return_type.and_then(future_output) {
                let fake = fake_return(Some(&output_type), return_span);
                let fake: Stmt = syn::parse_quote!(#fake);
                async_block.block.stmts.insert(0, fake);
            }
            let wrapped = quote! {
                async move {
                    let #output = #guard.draft().scoped(#future).await;
                    #complete
                    #output
                }
            };
            let wrapped = match pin {
                Some(pin) => quote!(#pin(#wrapped)),
                None => wrapped,
            };
            quote! {
                #(#stmts)*
                let #future = #async_block;
                #wrapped
            }
        }
    };

    let mut out = TokenStream::new();
    for attr in attrs {
        attr.to_tokens(&mut out);
    }
    vis.to_tokens(&mut out);
    sig.to_tokens(&mut out);
    body.brace.surround(&mut out, |out| {
        out.extend(quote! {
            #(#inner_attrs)*
            #catalogue_tracking
            static __AUDIT_ACTION: ::audit_core::__private::ActionCell =
                ::audit_core::__private::ActionCell::new(#action);
            let #guard = ::audit_core::__private::Guard::open(&__AUDIT_ACTION);
            #setup
            #run
        });
    });
    out
}
