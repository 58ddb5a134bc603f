//! `catalogue!()`: one `pub const` per declared action and a `pub static
//! CATALOGUE` of them all, for code that builds events by hand
//! (`Event::builder(actions::APP_CREATED, actor)`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::LitStr;
use syn::parse::{Parse, ParseStream};

use super::{Catalogue, FILE_NAME, parse::constant_name};

/// `catalogue!()` or `catalogue!("path/to/audit.toml")`.
struct CatalogueArgs {
    path: Option<LitStr>,
}

impl Parse for CatalogueArgs {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        if input.is_empty() {
            return Ok(Self { path: None });
        }
        let path = input.parse::<LitStr>().map_err(|error| {
            syn::Error::new(
                error.span(),
                "`catalogue!` takes nothing (`audit.toml` beside Cargo.toml) or the file's path: \
                 `catalogue!(\"../audit.toml\")`",
            )
        })?;
        input.parse::<Option<syn::Token![,]>>()?;
        Ok(Self { path: Some(path) })
    }
}

pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match generate(input) {
        Ok(tokens) => tokens,
        Err(error) => error.to_compile_error(),
    }
}

fn generate(input: TokenStream) -> syn::Result<TokenStream> {
    let args: CatalogueArgs = syn::parse2(input)?;
    let Some(loaded) = super::for_call(args.path.as_ref(), Span::call_site())? else {
        return Err(syn::Error::new(
            Span::call_site(),
            format!(
                "`catalogue!()` found no `{FILE_NAME}` beside this crate's Cargo.toml; \
                 create one with a table per action (`[actions.\"app.created\"]` and its `description`), \
                 or pass the file's path: `catalogue!(\"path/to/{FILE_NAME}\")`"
            ),
        ));
    };
    let catalogue = loaded
        .as_ref()
        .as_ref()
        .map_err(|message| syn::Error::new(Span::call_site(), message))?;
    Ok(items(catalogue))
}

fn items(catalogue: &Catalogue) -> TokenStream {
    let tracking = catalogue.tracking();
    let private = quote!(::audit_core::__private);
    let mut names = Vec::with_capacity(catalogue.actions.len());
    let constants = catalogue.actions.iter().map(|action| {
        let constant = format_ident!("{}", constant_name(&action.name));
        names.push(constant.clone());
        let name = &action.name;
        let doc = format!("`{name}`: {}", action.description);
        let category = format_ident!("{}", action.category);
        let severity = match action.severity {
            Some(variant) => {
                let variant = format_ident!("{variant}");
                quote!(::core::option::Option::Some(#private::Severity::#variant))
            }
            None => quote!(::core::option::Option::None),
        };
        let description = &action.description;
        let metadata = action.metadata.iter().map(|(key, kind)| {
            let kind = format_ident!("{kind}");
            quote!((#key, #private::MetadataType::#kind))
        });
        quote! {
            #[doc = #doc]
            pub const #constant: #private::DeclaredAction = #private::declared_action(
                #name,
                #private::Category::#category,
                #severity,
                #description,
                &[#(#metadata),*],
            );
        }
    });
    let constants: Vec<TokenStream> = constants.collect();
    let doc = format!("Every action declared in `{}`, in the file's order.", catalogue.shown);
    quote! {
        #tracking
        #(#constants)*
        #[doc = #doc]
        pub static CATALOGUE: #private::Catalogue = #private::catalogue(&[#(#names),*]);
    }
}
