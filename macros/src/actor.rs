//! `#[actor]` on an actor's impl block: methods marked `#[call]`, `#[cast]`,
//! `#[event]`, `#[info]` or `#[continuation]` become handlers, and callers
//! get typed methods on the handle for the calls and casts.
//!
//! For `impl Account { #[call] async fn balance(&mut self) -> u64 { .. } }`
//! it emits, next to the impl block (re-emitted without the markers):
//!
//! * one message struct per `#[call]`/`#[cast]` method, `AccountBalance`,
//!   with the method's arguments as fields;
//! * `impl HandleCall<AccountBalance> for Account` (or `HandleCast`;
//!   `HandleEvent<E>`, `HandleInfo<M>`, `HandleContinue<C>` for the
//!   one-message kinds, on the message's own type), whose future awaits the
//!   method: the same code path as the hand-written form, nothing boxed;
//! * a trait `AccountApi` implemented for `ActorRef<Account>` with one
//!   method per handler: `account.balance().await`, `account.deposit(5)`.
//!
//! With `#[actor(trap_exit)]` it also emits `impl HandleInfo<Exit>`, whose
//! handler returns `exit.propagate()`: an actor that traps exits only so
//! that `terminate` runs writes no handler of its own.
//!
//! A method may take `ctx: &mut Context<Self>` as its last argument.
//! `#[cast]` and `#[event]` methods return nothing or
//! `Result<(), ExitReason>`; `#[call]` methods return the reply.

use proc_macro2::TokenStream;
use quote::{format_ident, quote, ToTokens};
use syn::{FnArg, ImplItem, ImplItemFn, ItemImpl, Pat, ReturnType, Type};

use crate::attr::{crate_option, treeline};
use crate::ctxt::Ctxt;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Call,
    Cast,
    Event,
    Info,
    /// `#[continuation]` (`continue` is a keyword, so it cannot be an
    /// attribute's name).
    Continue,
}

impl Kind {
    /// The marker's name, for messages.
    fn marker(self) -> &'static str {
        match self {
            Kind::Call => "#[call]",
            Kind::Cast => "#[cast]",
            Kind::Event => "#[event]",
            Kind::Info => "#[info]",
            Kind::Continue => "#[continuation]",
        }
    }

    /// "a" or "an", before the marker.
    fn article(self) -> &'static str {
        match self {
            Kind::Event | Kind::Info => "an",
            Kind::Call | Kind::Cast | Kind::Continue => "a",
        }
    }

    /// A kind whose handler takes exactly one message, of the handler
    /// trait's type (no generated message struct, no API method).
    fn takes_one_message(self) -> bool {
        matches!(self, Kind::Event | Kind::Info | Kind::Continue)
    }
}

/// The markers' attribute names.
const MARKERS: [&str; 5] = ["call", "cast", "event", "info", "continuation"];

struct Handler {
    kind: Kind,
    method: syn::Ident,
    /// (name, type) of the message arguments (without the context).
    args: Vec<(syn::Ident, Type)>,
    takes_ctx: bool,
    output: Option<Type>,
    /// For an event, info or continuation: its type (the one argument).
    event: Option<Type>,
}

fn marker(method: &ImplItemFn, cx: &mut Ctxt) -> Option<Kind> {
    let mut found = None;
    for attr in &method.attrs {
        let kind = match attr.path().get_ident().map(ToString::to_string).as_deref() {
            Some("call") => Kind::Call,
            Some("cast") => Kind::Cast,
            Some("event") => Kind::Event,
            Some("info") => Kind::Info,
            Some("continuation") => Kind::Continue,
            _ => continue,
        };
        if !matches!(attr.meta, syn::Meta::Path(_)) {
            cx.error_spanned_by(attr, "this marker takes no arguments");
        }
        if found.is_some() {
            cx.error_spanned_by(
                attr,
                "a method can be only one of #[call], #[cast], #[event], #[info], #[continuation]",
            );
        }
        found = Some(kind);
    }
    found
}

fn is_context(ty: &Type) -> bool {
    match ty {
        Type::Reference(reference) if reference.mutability.is_some() => match &*reference.elem {
            Type::Path(path) => path.path.segments.last().is_some_and(|segment| segment.ident == "Context"),
            _ => false,
        },
        _ => false,
    }
}

fn parse_handler(method: &ImplItemFn, kind: Kind, cx: &mut Ctxt) -> Option<Handler> {
    let sig = &method.sig;
    let errors_before = cx.len();
    if sig.asyncness.is_none() {
        cx.error_spanned_by(sig.fn_token, "a handler must be an `async fn`");
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(&sig.generics, "a handler cannot be generic (each handler is one message type)");
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(receiver)) if receiver.reference.is_some() && receiver.mutability.is_some() => {}
        Some(FnArg::Receiver(receiver)) => cx.error_spanned_by(receiver, "a handler takes `&mut self`"),
        _ => cx.error_spanned_by(&sig.ident, "a handler takes `&mut self` first"),
    }
    let mut args = Vec::new();
    let mut takes_ctx = false;
    let rest: Vec<&FnArg> = inputs.collect();
    for (index, input) in rest.iter().enumerate() {
        let FnArg::Typed(typed) = input else { continue };
        if is_context(&typed.ty) {
            if index + 1 != rest.len() {
                cx.error_spanned_by(&typed.ty, "the context must be the last argument");
            }
            takes_ctx = true;
            continue;
        }
        match &*typed.pat {
            Pat::Ident(ident) if ident.by_ref.is_none() && ident.subpat.is_none() => {
                args.push((ident.ident.clone(), (*typed.ty).clone()));
            }
            // An unused argument: a generated name, passed on all the same.
            Pat::Wild(_) => args.push((format_ident!("__arg{}", index), (*typed.ty).clone())),
            other => {
                cx.error_spanned_by(other, "unsupported argument pattern: use a plain name (`amount: u64`) or `_`")
            }
        }
    }
    let output = match &sig.output {
        ReturnType::Default => None,
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    let mut event = None;
    if kind.takes_one_message() {
        match args.as_slice() {
            [(_, ty)] => event = Some(ty.clone()),
            _ => cx.error_spanned_by(
                &sig.inputs,
                format!(
                    "{} {} handler takes exactly one message (and optionally the context)",
                    kind.article(),
                    kind.marker()
                ),
            ),
        }
    }
    (cx.len() == errors_before).then(|| Handler { kind, method: sig.ident.clone(), args, takes_ctx, output, event })
}

/// Does `ty` name `Exit` (by its last path segment)?
fn names_exit(ty: &Type) -> bool {
    matches!(ty, Type::Path(path) if path.path.segments.last().is_some_and(|segment| segment.ident == "Exit"))
}

/// `#[actor(trap_exit)]`: the `Exit` handler of an actor that traps exits
/// only so that `terminate` runs; `Exit::propagate` keeps the links'
/// semantics.
fn expand_trap_exit(model: &Model) -> TokenStream {
    let Model { p, self_ty, .. } = model;
    quote! {
        impl #p::HandleInfo<#p::Exit> for #self_ty {
            fn handle_info(
                &mut self,
                exit: #p::Exit,
                _: &mut #p::Context<Self>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), #p::ExitReason>> + ::core::marker::Send {
                async move { exit.propagate() }
            }
        }
    }
}

/// `T` if `ty` is `Reply<T>`.
fn reply_of(ty: &Type) -> Option<Type> {
    let Type::Path(path) = ty else { return None };
    let last = path.path.segments.last()?;
    if last.ident != "Reply" {
        return None;
    }
    match &last.arguments {
        syn::PathArguments::AngleBracketed(args) if args.args.len() == 1 => match &args.args[0] {
            syn::GenericArgument::Type(inner) => Some(inner.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn pascal(ident: &syn::Ident) -> String {
    ident
        .to_string()
        .split('_')
        .filter(|part| !part.is_empty())
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|first| first.to_uppercase().chain(chars).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// The options of `#[actor(...)]`.
struct Options {
    krate: Option<syn::Path>,
    vis: syn::Visibility,
    /// `trap_exit`: generate the `HandleInfo<Exit>` handler (at this span).
    trap_exit: Option<proc_macro2::Span>,
}

/// Options: `#[actor]`, `#[actor(crate = "path")]`, `#[actor(vis = "pub(crate)")]`,
/// `#[actor(trap_exit)]`, comma-separated.
fn parse_options(attr: TokenStream, cx: &mut Ctxt) -> Options {
    let mut krate = None;
    let mut vis = None;
    let mut trap_exit = None;
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("trap_exit") {
            if trap_exit.is_some() {
                cx.error_spanned_by(&meta.path, "duplicate `trap_exit` option");
            }
            trap_exit = Some(syn::spanned::Spanned::span(&meta.path));
            Ok(())
        } else if meta.path.is_ident("crate") {
            crate_option(&meta, &mut krate, cx)
        } else if meta.path.is_ident("vis") {
            let lit: syn::LitStr = meta.value()?.parse()?;
            if vis.is_some() {
                cx.error_spanned_by(&lit, "duplicate `vis` option");
            }
            match lit.parse::<syn::Visibility>() {
                Ok(parsed) => vis = Some(parsed),
                Err(_) => cx.error_spanned_by(&lit, "`vis` must be a visibility, like \"pub(crate)\""),
            }
            Ok(())
        } else {
            Err(meta.error("unknown #[actor(...)] option: expected `crate`, `vis` or `trap_exit`"))
        }
    });
    if let Err(error) = syn::parse::Parser::parse2(parser, attr) {
        cx.syn_error(error);
    }
    Options { krate, vis: vis.unwrap_or_else(|| syn::parse_quote!(pub)), trap_exit }
}

/// The impl block after parsing and checking: what expansion works from.
struct Model {
    /// `::treeline::__private`, or under the `crate` option's path.
    p: TokenStream,
    self_ty: Type,
    actor_name: syn::Ident,
    handlers: Vec<Handler>,
    /// The visibility of the generated structs, their fields and the API
    /// trait (`pub` unless the `vis` option says otherwise).
    vis: syn::Visibility,
    /// The `trap_exit` option: generate `HandleInfo<Exit>`.
    trap_exit: bool,
}

/// What one handler adds: items next to the impl block, and its method in
/// the `<Actor>Api` trait (signature and body).
#[derive(Default)]
struct Expansion {
    items: TokenStream,
    api_sig: TokenStream,
    api_impl: TokenStream,
}

/// Parses and checks the options and the impl block, collecting every error;
/// strips the markers from `item`. `None` when nothing can be generated.
fn parse(attr: TokenStream, item: &mut ItemImpl, cx: &mut Ctxt) -> Option<Model> {
    let Options { krate, vis, trap_exit } = parse_options(attr, cx);
    let krate = treeline(krate.as_ref());
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(path, "#[actor] goes on the actor's own impl block, not on a trait impl");
    }
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(&item.generics, "#[actor] does not support generic actors yet");
    }
    let self_ty = (*item.self_ty).clone();
    let actor_name = match &self_ty {
        Type::Path(path) => path.path.segments.last().map(|segment| segment.ident.clone()),
        _ => None,
    };
    let Some(actor_name) = actor_name else {
        cx.error_spanned_by(&self_ty, "#[actor] needs a named type");
        return None;
    };
    let mut handlers = Vec::new();
    let mut seen_events: Vec<String> = Vec::new();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else { continue };
        let Some(kind) = marker(method, cx) else { continue };
        method.attrs.retain(|attr| !MARKERS.iter().any(|name| attr.path().is_ident(name)));
        let Some(handler) = parse_handler(method, kind, cx) else { continue };
        if let Some(event) = &handler.event {
            let key = format!("{} {}", handler.kind.marker(), event.to_token_stream());
            if seen_events.contains(&key) {
                let message = format!("a second {} handler for this type (one per type)", handler.kind.marker());
                cx.error_spanned_by(event, message);
                continue;
            }
            seen_events.push(key);
            if trap_exit.is_some() && handler.kind == Kind::Info && names_exit(event) {
                cx.error_spanned_by(
                    event,
                    "#[actor(trap_exit)] generates the `Exit` handler: remove this handler or the option",
                );
                continue;
            }
        }
        handlers.push(handler);
    }
    Some(Model { p: quote!(#krate::__private), self_ty, actor_name, handlers, vis, trap_exit: trap_exit.is_some() })
}

impl Handler {
    fn names(&self) -> Vec<&syn::Ident> {
        self.args.iter().map(|(name, _)| name).collect()
    }

    fn types(&self) -> Vec<&Type> {
        self.args.iter().map(|(_, ty)| ty).collect()
    }

    /// The awaited call of the user's method.
    fn call(&self) -> TokenStream {
        let method = &self.method;
        let names = self.names();
        let ctx_arg = if self.takes_ctx { quote!(, ctx) } else { quote!() };
        quote!(self.#method(#(#names),* #ctx_arg).await)
    }

    /// The call, as a cast or event handler's `Result<(), ExitReason>`.
    fn settle(&self) -> TokenStream {
        let call = self.call();
        match &self.output {
            None => quote!({ #call; ::core::result::Result::Ok(()) }),
            Some(_) => call,
        }
    }

    /// The generated message struct of a call or cast, and its doc.
    fn message(&self, model: &Model) -> (syn::Ident, String, TokenStream) {
        let (actor_name, method, vis) = (&model.actor_name, &self.method, &model.vis);
        let message = format_ident!("{}{}", actor_name, pascal(method));
        let doc = format!("The message of [`{actor_name}::{method}`] (generated by `#[actor]`).");
        let (names, types) = (self.names(), self.types());
        let item = quote! {
            #[doc = #doc]
            #[allow(missing_docs)]
            #vis struct #message { #(#vis #names: #types),* }
        };
        (message, doc, item)
    }
}

fn expand_call(model: &Model, handler: &Handler) -> Expansion {
    let Model { p, self_ty, .. } = model;
    let (message, doc, mut items) = handler.message(model);
    let (method, names, types, call) = (&handler.method, handler.names(), handler.types(), handler.call());
    // A method returning `Reply<T>` chooses how to reply (now, deferred, or
    // stopping); any other type is the reply itself.
    let (reply, answer) = match handler.output.as_ref().and_then(reply_of) {
        Some(inner) => (inner, call),
        None => {
            let reply = handler.output.clone().unwrap_or_else(|| syn::parse_quote!(()));
            (reply, quote!(#p::Reply::new(#call)))
        }
    };
    items.extend(quote! {
        impl #p::HandleCall<#message> for #self_ty {
            type Reply = #reply;
            fn handle_call(
                &mut self,
                msg: #message,
                ctx: &mut #p::Context<Self>,
            ) -> impl ::core::future::Future<Output = #p::Reply<#reply>> + ::core::marker::Send {
                let _ = &ctx;
                async move {
                    let #message { #(#names),* } = msg;
                    #answer
                }
            }
        }
    });
    let returns = quote!(impl ::core::future::Future<Output = ::core::result::Result<#reply, #p::CallError>> + ::core::marker::Send);
    Expansion {
        items,
        api_sig: quote!(#[doc = #doc] fn #method(&self, #(#names: #types),*) -> #returns;),
        api_impl: quote!(fn #method(&self, #(#names: #types),*) -> #returns { self.call(#message { #(#names),* }) }),
    }
}

fn expand_cast(model: &Model, handler: &Handler) -> Expansion {
    let Model { p, self_ty, .. } = model;
    let (message, doc, mut items) = handler.message(model);
    let (method, names, types, settle) = (&handler.method, handler.names(), handler.types(), handler.settle());
    items.extend(quote! {
        impl #p::HandleCast<#message> for #self_ty {
            fn handle_cast(
                &mut self,
                msg: #message,
                ctx: &mut #p::Context<Self>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), #p::ExitReason>> + ::core::marker::Send {
                let _ = &ctx;
                async move {
                    let #message { #(#names),* } = msg;
                    #settle
                }
            }
        }
    });
    let returns = quote!(impl ::core::future::Future<Output = ::core::result::Result<(), #p::SendError<#message>>> + ::core::marker::Send);
    Expansion {
        items,
        api_sig: quote!(#[doc = #doc] fn #method(&self, #(#names: #types),*) -> #returns;),
        api_impl: quote!(fn #method(&self, #(#names: #types),*) -> #returns { self.cast(#message { #(#names),* }) }),
    }
}

/// An event, info or continuation handler: the handler trait for the
/// message's own type, and no API method (events are published, infos sent
/// with `ActorRef::send`, continuations set with `Context::continue_with`).
fn expand_one(model: &Model, handler: &Handler, event: &Type) -> Expansion {
    let Model { p, self_ty, .. } = model;
    let (name, settle) = (&handler.args[0].0, handler.settle());
    let (handler_trait, handler_method) = match handler.kind {
        Kind::Info => (quote!(HandleInfo), quote!(handle_info)),
        Kind::Continue => (quote!(HandleContinue), quote!(handle_continue)),
        _ => (quote!(HandleEvent), quote!(handle_event)),
    };
    let items = quote! {
        impl #p::#handler_trait<#event> for #self_ty {
            fn #handler_method(
                &mut self,
                #name: #event,
                ctx: &mut #p::Context<Self>,
            ) -> impl ::core::future::Future<Output = ::core::result::Result<(), #p::ExitReason>> + ::core::marker::Send {
                let _ = &ctx;
                async move { #settle }
            }
        }
    };
    Expansion { items, ..Expansion::default() }
}

pub(crate) fn expand(attr: TokenStream, mut item: ItemImpl) -> TokenStream {
    let mut cx = Ctxt::default();
    let Some(model) = parse(attr, &mut item, &mut cx) else {
        let errors = cx.into_compile_errors();
        return quote!(#errors #item);
    };
    let mut all = Expansion::default();
    for handler in &model.handlers {
        let one = match (handler.kind, &handler.event) {
            (Kind::Call, _) => expand_call(&model, handler),
            (Kind::Cast, _) => expand_cast(&model, handler),
            (_, Some(event)) => expand_one(&model, handler, event),
            (_, None) => continue, // reported by `parse_handler`
        };
        all.items.extend(one.items);
        all.api_sig.extend(one.api_sig);
        all.api_impl.extend(one.api_impl);
    }
    if model.trap_exit {
        all.items.extend(expand_trap_exit(&model));
    }
    let Model { p, self_ty, actor_name, vis, .. } = &model;
    let api = format_ident!("{}Api", actor_name);
    let api_doc = format!(
        "Typed methods on `ActorRef<{actor_name}>` and `ChildRef<{actor_name}>`, one per `#[call]`/`#[cast]` handler (generated by `#[actor]`)."
    );
    let Expansion { items, api_sig, api_impl } = all;
    let errors = cx.into_compile_errors();
    quote! {
        #errors
        #item
        #items
        #[doc = #api_doc]
        #vis trait #api {
            #api_sig
        }
        impl #api for #p::ActorRef<#self_ty> {
            #api_impl
        }
        impl #api for #p::ChildRef<#self_ty> {
            #api_impl
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_str(attr: TokenStream, item: ItemImpl) -> String {
        expand(attr, item).to_string()
    }

    #[test]
    fn expands_to_the_hand_written_form() {
        let item: ItemImpl = syn::parse_quote! {
            impl Account {
                #[call]
                async fn balance(&mut self) -> u64 { self.balance }
                #[cast]
                async fn deposit(&mut self, amount: u64, ctx: &mut Context<Self>) { self.balance += amount; }
                #[event]
                async fn on_order(&mut self, order: OrderPlaced) {}
                #[call]
                async fn later(&mut self) -> Reply<u64> { Reply::deferred().0 }
            }
        };
        let out = expand_str(TokenStream::new(), item);
        for expected in [
            "pub struct AccountBalance { }",
            "pub struct AccountDeposit { pub amount : u64 }",
            "impl :: treeline :: __private :: HandleCall < AccountBalance > for Account { type Reply = u64 ;",
            "impl :: treeline :: __private :: HandleCast < AccountDeposit > for Account",
            "self . deposit (amount , ctx) . await",
            "impl :: treeline :: __private :: HandleEvent < OrderPlaced > for Account",
            "impl :: treeline :: __private :: HandleCall < AccountLater > for Account { type Reply = u64 ;",
            "pub trait AccountApi",
            "impl AccountApi for :: treeline :: __private :: ActorRef < Account >",
            "impl AccountApi for :: treeline :: __private :: ChildRef < Account >",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in {out}");
        }
        assert!(!out.contains("# [call]"), "markers are removed from the re-emitted impl");
        assert!(!out.contains("compile_error"), "{out}");
    }

    #[test]
    fn the_crate_option_changes_every_path() {
        let item: ItemImpl = syn::parse_quote! {
            impl A { #[cast] async fn go(&mut self) {} }
        };
        let out = expand_str(quote!(crate = "my::rt"), item);
        assert!(out.contains("impl my :: rt :: __private :: HandleCast < AGo > for A"), "{out}");
        assert!(!out.contains(":: treeline ::"), "{out}");
    }

    #[test]
    fn the_vis_option_sets_the_generated_items_visibility() {
        let item: ItemImpl = syn::parse_quote! {
            impl A {
                #[cast] async fn go(&mut self, n: u8) {}
                #[info] async fn tick(&mut self, n: u32) {}
                #[continuation] async fn warm(&mut self, _: Warm) {}
            }
        };
        let out = expand_str(quote!(vis = "pub(crate)"), item);
        for expected in [
            "pub (crate) struct AGo { pub (crate) n : u8 }",
            "pub (crate) trait AApi",
            "impl :: treeline :: __private :: HandleInfo < u32 > for A",
            "impl :: treeline :: __private :: HandleContinue < Warm > for A",
            "self . warm (__arg0) . await",
        ] {
            assert!(out.contains(expected), "missing {expected:?} in {out}");
        }
        let bad: ItemImpl = syn::parse_quote! { impl A {} };
        assert!(expand_str(quote!(vis = "public"), bad).contains("`vis` must be a visibility"));
    }

    #[test]
    fn the_trap_exit_option_generates_the_exit_handler() {
        let item: ItemImpl = syn::parse_quote! {
            impl A { #[cast] async fn go(&mut self) {} }
        };
        let out = expand_str(quote!(trap_exit, vis = "pub(crate)"), item);
        assert!(
            out.contains("impl :: treeline :: __private :: HandleInfo < :: treeline :: __private :: Exit > for A"),
            "{out}"
        );
        assert!(out.contains("exit . propagate ()"), "{out}");
        let twice: ItemImpl = syn::parse_quote! {
            impl A { #[info] async fn exited(&mut self, exit: Exit) {} }
        };
        let out = expand_str(quote!(trap_exit), twice);
        assert!(out.contains("generates the `Exit` handler"), "{out}");
    }

    #[test]
    fn errors_are_all_reported_and_the_impl_re_emitted() {
        let item: ItemImpl = syn::parse_quote! {
            impl A {
                #[cast] fn not_async(&mut self) {}
                #[cast] async fn by_ref(&self) {}
            }
        };
        let out = expand_str(TokenStream::new(), item);
        assert_eq!(out.matches("compile_error").count(), 2, "{out}");
        assert!(out.contains("fn not_async"), "the item is re-emitted: {out}");
    }
}
