//! `#[derive(Event)]`: parse `#[event(...)]`, check the topic, emit the impl.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr};

use crate::attr::{crate_option, treeline};
use crate::ctxt::Ctxt;

use treeline_grammar as grammar;

/// What `#[event(...)]` said.
struct Attrs {
    topic: Option<LitStr>,
    krate: Option<syn::Path>,
}

fn parse_attrs(input: &DeriveInput, cx: &mut Ctxt) -> Attrs {
    let mut attrs = Attrs { topic: None, krate: None };
    for attr in input.attrs.iter().filter(|attr| attr.path().is_ident("event")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("topic") {
                let lit: LitStr = meta.value()?.parse()?;
                if attrs.topic.is_some() {
                    cx.error_spanned_by(&lit, "duplicate `topic` in #[event(...)]");
                }
                attrs.topic = Some(lit);
            } else if meta.path.is_ident("crate") {
                crate_option(&meta, &mut attrs.krate, cx)?;
            } else {
                return Err(meta.error("unknown #[event(...)] key: expected `topic` or `crate`"));
            }
            Ok(())
        });
        if let Err(error) = parsed {
            cx.syn_error(error);
        }
    }
    attrs
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let attrs = parse_attrs(input, &mut cx);
    let topic = match &attrs.topic {
        Some(topic) => {
            if let Err(violation) = grammar::check(&topic.value(), false) {
                cx.error_spanned_by(topic, format!("invalid event topic {:?}: {violation}", topic.value()));
            }
            topic.clone()
        }
        None => {
            cx.error_spanned_by(
                &input.ident,
                "#[derive(Event)] needs #[event(topic = \"...\")], e.g. \"orders.placed\"",
            );
            LitStr::new("", input.ident.span())
        }
    };
    let krate = treeline(attrs.krate.as_ref());
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = cx.into_compile_errors();
    // The impl is emitted even after an error, so that uses of the type as
    // an event do not pile up follow-up errors.
    quote! {
        #errors
        #[automatically_derived]
        impl #impl_generics #krate::__private::Event for #ident #ty_generics #where_clause {
            const TOPIC: &'static str = #topic;
        }
    }
}
