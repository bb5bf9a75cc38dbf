//! `#[derive(Durable)]`: a struct's fields in order, each as its length and
//! its own `Durable` encoding, under a stable tag.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::{Data, DeriveInput, Fields, LitStr};

use crate::attr::{crate_option, treeline};
use crate::ctxt::Ctxt;

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let mut tag: Option<LitStr> = None;
    let mut krate: Option<syn::Path> = None;
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
            } else if meta.path.is_ident("crate") {
                crate_option(&meta, &mut krate, &mut cx)?;
            } else {
                return Err(meta.error("unknown #[durable(...)] key: expected `tag` or `crate`"));
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
            "#[derive(Durable)] needs #[durable(tag = \"...\")]: the type's stable name on disk, e.g. \"billing.Charge/1\"",
        );
        LitStr::new("", input.ident.span())
    });
    let krate = treeline(krate.as_ref());
    let p = quote!(#krate::__private);
    let ident = &input.ident;
    // Each type parameter must be durable itself (serde_derive's rule).
    let mut generics = input.generics.clone();
    for param in generics.type_params_mut() {
        param.bounds.push(syn::parse_quote!(#p::Durable));
    }
    let (impl_generics, ty_generics, where_clause) = generics.split_for_impl();
    let (encode, decode) = match &input.data {
        Data::Struct(data) => match &data.fields {
            Fields::Named(fields) => {
                let names: Vec<_> = fields.named.iter().filter_map(|field| field.ident.clone()).collect();
                let labels: Vec<String> = names.iter().map(ToString::to_string).collect();
                (
                    quote!(#( #p::fields::put(out, &self.#names)?; )*),
                    quote!(let value = #ident { #( #names: #p::fields::take(&mut rest, #labels)?, )* };),
                )
            }
            Fields::Unnamed(fields) => {
                let indexes: Vec<syn::Index> = (0..fields.unnamed.len()).map(syn::Index::from).collect();
                let labels: Vec<String> = indexes.iter().map(|index| index.index.to_string()).collect();
                let vars: Vec<_> = indexes.iter().map(|index| format_ident!("field_{}", index.index)).collect();
                (
                    quote!(#( #p::fields::put(out, &self.#indexes)?; )*),
                    quote!(
                        #( let #vars = #p::fields::take(&mut rest, #labels)?; )*
                        let value = #ident ( #( #vars ),* );
                    ),
                )
            }
            Fields::Unit => (quote!(), quote!(let value = #ident;)),
        },
        Data::Enum(data) => {
            cx.error_spanned_by(
                data.enum_token,
                "#[derive(Durable)] supports structs; implement `Durable` by hand for an enum",
            );
            (quote!(), quote!())
        }
        Data::Union(data) => {
            cx.error_spanned_by(data.union_token, "#[derive(Durable)] supports structs, not unions");
            (quote!(), quote!())
        }
    };
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

            fn encode(&self, out: &mut ::std::vec::Vec<u8>) -> ::core::result::Result<(), #p::CodecError> {
                let _ = &out;
                #encode
                ::core::result::Result::Ok(())
            }

            fn decode(bytes: &[u8]) -> ::core::result::Result<Self, #p::CodecError> {
                let mut rest = bytes;
                #decode
                #p::fields::end(rest)?;
                ::core::result::Result::Ok(value)
            }
        }
    }
}
