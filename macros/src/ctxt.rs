//! Collects errors so that a macro reports all of them at once.

use std::fmt::Display;

use proc_macro2::TokenStream;
use quote::ToTokens;

/// Errors found while expanding one item.
#[derive(Default)]
pub(crate) struct Ctxt {
    errors: Vec<syn::Error>,
}

impl Ctxt {
    /// An error at the span of `tokens`.
    pub(crate) fn error_spanned_by(&mut self, tokens: impl ToTokens, message: impl Display) {
        self.errors.push(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// How many errors so far.
    pub(crate) fn len(&self) -> usize {
        self.errors.len()
    }

    /// A parse error as it came.
    pub(crate) fn syn_error(&mut self, error: syn::Error) {
        self.errors.push(error);
    }

    /// The errors as `compile_error!` invocations (empty if none).
    pub(crate) fn into_compile_errors(self) -> TokenStream {
        self.errors.into_iter().map(|error| error.to_compile_error()).collect()
    }
}
