//! `#[derive(Event)]`: parse `#[event(...)]`, check the topic, emit the impl.

use proc_macro2::TokenStream;
use quote::quote;
use syn::{DeriveInput, LitStr};

use crate::ctxt::Ctxt;

#[allow(dead_code, unreachable_pub)] // the runtime uses the constants
mod grammar {
    include!("topic_grammar.rs");
}

use grammar::Violation;

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
                let lit: LitStr = meta.value()?.parse()?;
                match lit.parse::<syn::Path>() {
                    Ok(path) => attrs.krate = Some(path),
                    Err(_) => cx.error_spanned_by(&lit, "`crate` must be a path, like \"my_crate::treeline\""),
                }
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

fn describe(violation: Violation) -> String {
    match violation {
        Violation::Empty => "the topic is empty".to_owned(),
        Violation::EmptyToken { index } => {
            format!("token {index} of the topic is empty (a leading, trailing or doubled `.`)")
        }
        Violation::InvalidByte { offset } => {
            format!("byte {offset} of the topic is not printable ASCII (spaces and control bytes are not allowed)")
        }
        Violation::PartialWildcard { .. } | Violation::WildcardInTopic => {
            "an event's own topic cannot contain a wildcard (`*` and `>` are for subscription patterns)".to_owned()
        }
        Violation::TailNotLast => "`>` must be the last token".to_owned(),
        Violation::Reserved => {
            "the first token of a topic cannot start with `$` or be `_INBOX` (reserved by NATS)".to_owned()
        }
        Violation::TooLong => format!("the topic is longer than {} bytes", grammar::MAX_TOPIC_BYTES),
        Violation::TooManyTokens => format!("the topic has more than {} tokens", grammar::MAX_TOPIC_TOKENS),
    }
}

pub(crate) fn expand(input: &DeriveInput) -> TokenStream {
    let mut cx = Ctxt::default();
    let attrs = parse_attrs(input, &mut cx);
    let topic = match &attrs.topic {
        Some(topic) => {
            if let Err(violation) = grammar::check(&topic.value(), false) {
                cx.error_spanned_by(topic, format!("invalid event topic {:?}: {}", topic.value(), describe(violation)));
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
    let krate = attrs.krate.map_or_else(|| quote!(::treeline), |path| quote!(#path));
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let errors = cx.into_compile_errors();
    // The impl is emitted even after an error, so that uses of the type as
    // an event do not pile up follow-up errors.
    quote! {
        #errors
        impl #impl_generics #krate::__private::Event for #ident #ty_generics #where_clause {
            const TOPIC: &'static str = #topic;
        }
    }
}
