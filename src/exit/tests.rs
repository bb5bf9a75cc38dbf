use super::*;

#[derive(Debug)]
struct Custom(u32);

impl fmt::Display for Custom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "custom {}", self.0)
    }
}

impl StdError for Custom {}

#[test]
fn expected_exits_are_normal_and_the_shutdowns() {
    let expected = [ExitReason::Normal, ExitReason::Shutdown, ExitReason::shutdown_with("detail")];
    assert!(expected.iter().all(ExitReason::is_expected));
    let abnormal = [
        ExitReason::Kill,
        ExitReason::Killed,
        ExitReason::NoProc,
        ExitReason::Panic(PanicMessage::new("p")),
        ExitReason::custom("c"),
    ];
    assert!(!abnormal.iter().any(ExitReason::is_expected));
}

#[test]
fn errors_convert_with_question_mark_and_downcast_back() {
    fn fails() -> Result<(), ExitReason> {
        Err(Custom(7))?;
        Ok(())
    }
    let reason = fails().unwrap_err();
    assert_eq!(reason.downcast_ref::<Custom>().map(|c| c.0), Some(7));
    assert_eq!(reason.to_string(), "custom 7");
    assert!(ExitReason::Normal.downcast_ref::<Custom>().is_none());
}

#[test]
fn equality_compares_variants_and_payload_text() {
    assert_eq!(ExitReason::custom("a"), ExitReason::custom("a"));
    assert_ne!(ExitReason::custom("a"), ExitReason::custom("b"));
    assert_ne!(ExitReason::custom("a"), ExitReason::shutdown_with("a"));
    assert_ne!(ExitReason::Kill, ExitReason::Killed);
    let shared = ExitReason::error(Custom(1));
    assert_eq!(shared.clone(), shared);
}

#[test]
fn display_and_debug_are_short() {
    assert_eq!(ExitReason::shutdown_with("redeploy").to_string(), "shutdown: redeploy");
    assert_eq!(format!("{:?}", ExitReason::custom("x")), "Error(\"x\")");
    assert_eq!(format!("{:?}", ExitReason::Panic(PanicMessage::new("p"))), "Panic(\"p\")");
}

#[test]
fn panic_payloads_keep_their_message() {
    let text: Box<dyn Any + Send> = Box::new("static text");
    assert_eq!(PanicMessage::from_payload(text).message(), "static text");
    let owned: Box<dyn Any + Send> = Box::new(String::from("owned"));
    assert_eq!(PanicMessage::from_payload(owned).message(), "owned");
    let other: Box<dyn Any + Send> = Box::new(42u8);
    assert_eq!(PanicMessage::from_payload(other).message(), "<non-string panic payload>");
}
