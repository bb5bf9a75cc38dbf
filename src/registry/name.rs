//! Unique names: typed by the actor they name.

use std::any::TypeId;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;

use crate::actor::Actor;

/// The name of an actor of type `A` in its System's registry.
///
/// The type makes lookups typed: `system.whereis(&BILLING)` returns an
/// `ActorRef<Billing>`, and only a `Billing` can register under it.
///
/// ```
/// use treeline::{Actor, Context, InitError, Name};
///
/// struct Billing;
/// impl Actor for Billing {
///     type Args = ();
///     async fn init(_: (), _: &mut Context<Self>) -> Result<Self, InitError> { Ok(Billing) }
/// }
///
/// const BILLING: Name<Billing> = Name::new("billing");
/// assert_eq!(BILLING.as_str(), "billing");
/// ```
pub struct Name<A> {
    text: Cow<'static, str>,
    _actor: PhantomData<fn() -> A>,
}

impl<A> Name<A> {
    /// A name from a static string.
    pub const fn new(text: &'static str) -> Self {
        Name { text: Cow::Borrowed(text), _actor: PhantomData }
    }

    /// A name built at run time.
    pub fn owned(text: impl Into<String>) -> Self {
        Name { text: Cow::Owned(text.into()), _actor: PhantomData }
    }

    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl<A: Actor> Name<A> {
    pub(crate) fn key(&self) -> NameKey {
        NameKey { text: Arc::from(self.as_str()), actor: TypeId::of::<A>() }
    }
}

impl<A> Clone for Name<A> {
    fn clone(&self) -> Self {
        Name { text: self.text.clone(), _actor: PhantomData }
    }
}

impl<A> PartialEq for Name<A> {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl<A> Eq for Name<A> {}

impl<A> fmt::Debug for Name<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Name<{}>({:?})", std::any::type_name::<A>(), &*self.text)
    }
}

impl<A> fmt::Display for Name<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// A name with its actor type erased (what the registry stores).
#[derive(Clone, Debug)]
pub(crate) struct NameKey {
    pub(crate) text: Arc<str>,
    pub(crate) actor: TypeId,
}
