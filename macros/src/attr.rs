//! The attribute option every macro takes: `crate = "path"` (where
//! treeline is, for a crate that re-exports it under another name), parsed
//! in one place.

use proc_macro2::TokenStream;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::LitStr;

use crate::ctxt::Ctxt;

/// Parses the value of a `crate = "..."` option into `krate` (a duplicate
/// or a malformed path is reported at its string).
pub(crate) fn crate_option(
    meta: &ParseNestedMeta<'_>,
    krate: &mut Option<syn::Path>,
    cx: &mut Ctxt,
) -> syn::Result<()> {
    let lit: LitStr = meta.value()?.parse()?;
    if krate.is_some() {
        cx.error_spanned_by(&lit, "duplicate `crate` option");
    }
    match lit.parse::<syn::Path>() {
        Ok(path) => *krate = Some(path),
        Err(_) => cx.error_spanned_by(&lit, "`crate` must be a path, like \"my_crate::treeline\""),
    }
    Ok(())
}

/// Where generated code finds treeline: `::treeline`, or the `crate` option.
pub(crate) fn treeline(krate: Option<&syn::Path>) -> TokenStream {
    krate.map_or_else(|| quote!(::treeline), |path| quote!(#path))
}
