//! The macros of [treeline](https://docs.rs/treeline), re-exported by it
//! behind its default `macros` feature; use them through `treeline`.
//!
//! Generated code names only `::treeline::__private` (or `<path>::__private`
//! with `#[event(crate = "path")]`), so a crate that re-exports treeline
//! under another name can still use them.
//!
//! The pipeline is serde_derive's: parse the item, collect every error in a
//! `ctxt::Ctxt` (so all are reported at once, each at the span of the
//! offending tokens), and still emit the impl when an error leaves enough to
//! do so, so that follow-up errors in user code stay readable.

mod actor;
mod attr;
mod ctxt;
mod durable;
mod event;

use proc_macro::TokenStream;

/// Turns an actor's impl block into handlers: methods marked `#[call]`,
/// `#[cast]` or `#[event]` become `HandleCall`/`HandleCast`/`HandleEvent`
/// impls (one generated message struct per call and cast, named
/// `<Actor><Method>`), and a trait `<Actor>Api` gives `ActorRef<Actor>` one
/// typed method per call and cast. See the `treeline` docs for an example.
#[proc_macro_attribute]
pub fn actor(attr: TokenStream, item: TokenStream) -> TokenStream {
    let item = syn::parse_macro_input!(item as syn::ItemImpl);
    actor::expand(attr.into(), item).into()
}

/// Implements `treeline::Event` for a type, with its topic checked at
/// compile time (well-formed tokens; no wildcard: that is for subscription
/// patterns).
///
/// ```text
/// #[derive(Clone, treeline::Event)]
/// #[event(topic = "orders.placed")]
/// struct OrderPlaced { id: u64 }
/// ```
///
/// Attributes: `topic = "..."` (required), `crate = "path"` (where treeline
/// is, default `::treeline`).
#[proc_macro_derive(Event, attributes(event))]
pub fn derive_event(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    event::expand(&input).into()
}

/// Implements `treeline::Durable` for a struct: each field in declaration
/// order, as its length and its own `Durable` encoding, under the stable
/// tag given by `#[durable(tag = "...")]` (and `crate = "path"` to name
/// where treeline is). Decoding fails with a typed error naming the field
/// when the bytes are cut short or do not decode.
#[proc_macro_derive(Durable, attributes(durable))]
pub fn derive_durable(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    durable::expand(&input).into()
}
