//! Bounds on what a plugin returns besides bodies: text the host stores and
//! logs (drop reasons, error and panic messages), the event type, header
//! bytes and the number of targets. Bodies have their configured limit
//! (`limits.output_bytes`); these are fixed, far above what a real plugin
//! needs and far below what would cost the host.
//!
//! Text is cut and marked; a structural excess (too many targets, headers
//! or too long an event type) fails the invocation as `output_too_large`.

/// Drop reasons, error messages and panic messages, in bytes.
pub const MAX_TEXT: usize = 4 << 10;
/// An event type, in bytes.
pub const MAX_EVENT_TYPE: usize = 256;
/// Header names and values of one result together, in bytes.
pub const MAX_HEADER_BYTES: usize = 64 << 10;
/// Targets of one `deliver`.
pub const MAX_TARGETS: usize = 256;

/// `text` cut to [`MAX_TEXT`] bytes at a character boundary, marked with
/// the size it had.
pub(crate) fn text(text: String) -> String {
    if text.len() <= MAX_TEXT {
        return text;
    }
    let mut cut = MAX_TEXT;
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}… [cut from {} bytes]", &text[..cut], text.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_at_a_character_and_marked() {
        assert_eq!(text("short".into()), "short");
        let long = "é".repeat(MAX_TEXT);
        let cut = text(long.clone());
        assert!(cut.len() < MAX_TEXT + 40, "{}", cut.len());
        assert!(
            cut.ends_with(&format!("… [cut from {} bytes]", long.len())),
            "{cut}"
        );
    }
}
