//! `#[derive(Durable)]`: a struct's fields in order, each as its length and
//! its own `Durable` encoding; an enum's variant name, then its fields; or,
//! with `serde`, the type's JSON. Under a stable tag and a version, with an
//! optional upcaster from the previous version's shape.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned, ToTokens};
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Fields, LitInt, LitStr};

use crate::attr::{crate_option, treeline};
use crate::ctxt::Ctxt;

/// The `#[durable(...)]` options.
struct Options {
    tag: LitStr,
    version: Option<LitInt>,
    from: Option<syn::Path>,
    krate: Option<syn::Path>,
    serde: bool,
}

fn parse_options(input: &DeriveInput, cx: &mut Ctxt) -> Options {
    let mut tag: Option<LitStr> = None;
    let mut version: Option<LitInt> = None;
    let mut from: Option<syn::Path> = None;
    let mut krate: Option<syn::Path> = None;
    let mut serde = false;
    for attr in input.attrs.iter().filter(|attr| attr.path().is_ident("durable")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("tag") {
                let lit: LitStr = meta.value()?.parse()?;
                if lit.value().is_empty() {
                    cx.error_spanned_by(&lit, "the tag must not be empty");
                }
                if tag.is_some() {
                    cx.error_spanned_by(&lit, "duplicate `tag` in #[durable(...)]");
                }
                tag = Some(lit);
            } else if meta.path.is_ident("version") {
                let lit: LitInt = meta.value()?.parse()?;
                match lit.base10_parse::<u16>() {
                    Ok(0) | Err(_) => cx.error_spanned_by(&lit, "the version is a number from 1 to 65535"),
                    Ok(_) => {}
                }
                version = Some(lit);
            } else if meta.path.is_ident("from") {
                from = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("serde") {
                serde = true;
            } else if meta.path.is_ident("crate") {
                crate_option(&meta, &mut krate, cx)?;
            } else {
                return Err(
                    meta.error("unknown #[durable(...)] key: expected `tag`, `version`, `from`, `serde` or `crate`")
                );
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    let tag = tag.unwrap_or_else(|| {
        cx.error_spanned_by(
            &input.ident,
            "#[derive(Durable)] needs #[durable(tag = \"...\")]: the type's stable name on disk, e.g. \"billing.Charge\"",
        );
        LitStr::new("", input.ident.span())
    });
    if let (Some(from), None) = (&from, &version) {
        cx.error_spanned_by(from, "`from` upcasts an older version: give this type's `version` too (2 or more)");
    }
    Options { tag, version, from, krate, serde }
}

/// Encoding and decoding of one set of fields (a struct's, or a variant's).
/// `access` is how encoding reaches a field (`&self.name` for a struct, a
/// bound name for a variant); `build` is the path that constructs the
/// value. Each call is spanned at its field's type, so a field whose type
/// is not `Durable` is reported there.
fn fields_codec(
    p: &TokenStream,
    fields: &Fields,
    build: TokenStream,
    struct_access: bool,
) -> (TokenStream, TokenStream, TokenStream) {
    match fields {
        Fields::Named(named) => {
            let names: Vec<_> = named.named.iter().filter_map(|field| field.ident.clone()).collect();
            let puts = named.named.iter().zip(&names).map(|(field, name)| {
                let access = if struct_access { quote!(&self.#name) } else { quote!(#name) };
                quote_spanned!(field.ty.span()=> #p::fields::put(out, #access)?;)
            });
            let takes = named.named.iter().zip(&names).map(|(field, name)| {
                let label = name.to_string();
                quote_spanned!(field.ty.span()=> #name: #p::fields::take(&mut rest, #label)?,)
            });
            (quote!({ #(#names),* }), quote!(#(#puts)*), quote!(#build { #(#takes)* }))
        }
        Fields::Unnamed(unnamed) => {
            let vars: Vec<_> = (0..unnamed.unnamed.len()).map(|index| format_ident!("field_{}", index)).collect();
            let puts = unnamed.unnamed.iter().enumerate().zip(&vars).map(|((index, field), var)| {
                let index = syn::Index::from(index);
                let access = if struct_access { quote!(&self.#index) } else { quote!(#var) };
                quote_spanned!(field.ty.span()=> #p::fields::put(out, #access)?;)
            });
            let takes = unnamed.unnamed.iter().enumerate().map(|(index, field)| {
                let label = index.to_string();
                quote_spanned!(field.ty.span()=> #p::fields::take(&mut rest, #label)?,)
            });
            (quote!(( #(#vars),* )), quote!(#(#puts)*), quote!(#build ( #(#takes)* )))
        }
        Fields::Unit => (quote!(), quote!(), build),
    }
}

/// The bodies of `encode` and `decode` (the latter binding `value`).
fn bodies(p: &TokenStream, input: &DeriveInput, cx: &mut Ctxt) -> (TokenStream, TokenStream) {
    let ident = &input.ident;
    match &input.data {
        Data::Struct(data) => {
            let (_, encode, decode) = fields_codec(p, &data.fields, quote!(#ident), true);
            (encode, quote!(let value = #decode; #p::fields::end(rest)?;))
        }
        Data::Enum(data) => {
            let type_name = ident.to_string();
            let mut encode_arms = Vec::new();
            let mut decode_arms = Vec::new();
            for variant in &data.variants {
                let name = &variant.ident;
                let label = name.to_string();
                if label.len() > 255 {
                    cx.error_spanned_by(name, "a variant name is stored with a one-byte length: at most 255 bytes");
                }
                let (pattern, puts, build) = fields_codec(p, &variant.fields, quote!(#ident::#name), false);
                encode_arms.push(quote!(#ident::#name #pattern => { #p::fields::put_variant(out, #label)?; #puts }));
                decode_arms.push(quote!(#label => #build,));
            }
            if data.variants.is_empty() {
                cx.error_spanned_by(
                    ident,
                    "#[derive(Durable)] needs at least one variant (no value of this type exists)",
                );
            }
            (
                quote!(match self { #(#encode_arms)* }),
                quote!(
                    let value = match #p::fields::take_variant(&mut rest, #type_name)? {
                        #(#decode_arms)*
                        other => return ::core::result::Result::Err(#p::fields::unknown_variant(#type_name, other)),
                    };
                    #p::fields::end(rest)?;
                ),
            )
        }
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, "#[derive(Durable)] supports structs and enums, not unions");
            (quote!(), quote!(let value = unreachable!();))
        }
    }
}

/// Does `tokens` name `ident` anywhere?
fn mentions(tokens: TokenStream, ident: &syn::Ident) -> bool {
    tokens.into_iter().any(|tree| match tree {
        proc_macro2::TokenTree::Ident(name) => name == *ident || name == "Self",
        proc_macro2::TokenTree::Group(group) => mentions(group.stream(), ident),
        _ => false,
    })
}

/// `tokens` with every span set to `span`.
fn respan(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut tree| {
            if let proc_macro2::TokenTree::Group(group) = &tree {
                let mut inner = proc_macro2::Group::new(group.delimiter(), respan(group.stream(), span));
                inner.set_span(span);
                tree = proc_macro2::TokenTree::Group(inner);
            } else {
                tree.set_span(span);
            }
            tree
        })
        .collect()
}

/// The types of every field (of every variant), each once.
fn field_types(input: &DeriveInput) -> Vec<&syn::Type> {
    let fields: Vec<&syn::Field> = match &input.data {
        Data::Struct(data) => data.fields.iter().collect(),
        Data::Enum(data) => data.variants.iter().flat_map(|variant| variant.fields.iter()).collect(),
        Data::Union(_) => Vec::new(),
    };
    let mut seen: Vec<String> = Vec::new();
    let mut types: Vec<&syn::Type> = Vec::new();
    for field in fields {
        let key = field.ty.to_token_stream().to_string();
        if !seen.contains(&key) {
            seen.push(key);
            types.push(&field.ty);
        }
    }
    types
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let Options { tag, version, from, krate, serde } = parse_options(input, &mut cx);
    let krate = treeline(krate.as_ref());
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    // Each type parameter must be durable itself (serde_derive's rule), or
    // serializable with `serde`.
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        if serde {
            param.bounds.push(syn::parse_quote!(#p::serde::Serialize));
            param.bounds.push(syn::parse_quote!(#p::serde::de::DeserializeOwned));
            param.bounds.push(syn::parse_quote!(::core::marker::Send + 'static));
        } else {
            param.bounds.push(syn::parse_quote!(#p::Durable));
        }
    }
    if !serde {
        // Each field's type must be durable: said in the where clause at the
        // field's own type, which is where the compiler then reports one
        // that is not (instead of at the derive). Not for a type that
        // contains the type itself (`Vec<Tree>` in `Tree`): that bound would
        // be a cycle; its encode call still checks it.
        let where_clause = generics.make_where_clause();
        for ty in field_types(input).into_iter().filter(|ty| !mentions(ty.to_token_stream(), &input.ident)) {
            let durable = respan(quote!(#p::Durable), ty.span());
            where_clause.predicates.push(syn::parse_quote_spanned!(ty.span()=> #ty: #durable));
        }
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let (encode, decode) = if serde {
        let span = Span::call_site();
        (
            quote_spanned!(span=> #p::json::encode(self, out)?;),
            quote_spanned!(span=> let value = #p::json::decode(bytes)?;),
        )
    } else {
        bodies(&p, input, &mut cx)
    };
    let version_item = version.as_ref().map(|version| quote!(const VERSION: u16 = #version;));
    let upcast = from.as_ref().map(|from| {
        quote! {
            fn decode_version(version: u16, bytes: &[u8]) -> ::core::result::Result<Self, #p::CodecError> {
                #p::upcast::<#from, Self>(version, bytes)
            }
        }
    });
    let errors = cx.into_compile_errors();
    if !errors.is_empty() {
        // The impl still comes, with bodies that compile for any type, so
        // that uses of the type as `Durable` add no follow-up errors.
        return quote! {
            #errors
            #[automatically_derived]
            impl #impl_generics #p::Durable for #ident #ty_generics #where_clause {
                const TAG: &'static str = #tag;

                fn encode(&self, _: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), #p::CodecError> {
                    ::core::result::Result::Ok(())
                }

                fn decode(_: &[u8]) -> ::core::result::Result<Self, #p::CodecError> {
                    ::core::result::Result::Err(#p::CodecError::new("the Durable derive failed"))
                }
            }
        };
    }
    quote! {
        #[automatically_derived]
        impl #impl_generics #p::Durable for #ident #ty_generics #where_clause {
            const TAG: &'static str = #tag;
            #version_item

            fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), #p::CodecError> {
                let _ = &out;
                #encode
                ::core::result::Result::Ok(())
            }

            fn decode(bytes: &[u8]) -> ::core::result::Result<Self, #p::CodecError> {
                let mut rest = bytes;
                let _ = &mut rest;
                #decode
                ::core::result::Result::Ok(value)
            }

            #upcast
        }
    }
}
