//! The page: three hand-written files, embedded at compile time (no build
//! step, no framework): HTML, a script that draws the tree as SVG and the
//! tables as HTML from the event stream, and a style sheet.

pub(crate) const PAGE: &str = include_str!("../assets/index.html");
pub(crate) const SCRIPT: &str = include_str!("../assets/observer.js");
pub(crate) const STYLE: &str = include_str!("../assets/observer.css");
