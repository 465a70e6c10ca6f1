//! SMS as carriers bill them: in segments, whose size depends on the text's encoding.

/// The GSM 03.38 basic character set: one septet each.
const GSM7_BASIC: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?\
    ¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";
/// Its extension table: an escape and the character, two septets each.
const GSM7_EXTENDED: &str = "^{}\\[~]|€\u{0c}";

/// How many SMS segments carriers bill for `body`: GSM-7 text is 160 septets in one
/// segment or 153 per segment of a longer message; anything else (Japanese) is UCS-2,
/// 70 UTF-16 units in one segment or 67 per segment.
pub fn segments(body: &str) -> u32 {
    let septets: Option<usize> = body
        .chars()
        .map(|c| {
            if GSM7_BASIC.contains(c) {
                Some(1)
            } else if GSM7_EXTENDED.contains(c) {
                Some(2)
            } else {
                None
            }
        })
        .sum();
    let (units, single, each) = match septets {
        Some(septets) => (septets, 160, 153),
        None => (body.encode_utf16().count(), 70, 67),
    };
    let segments = if units <= single {
        1
    } else {
        units.div_ceil(each)
    };
    u32::try_from(segments).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gsm7_text_fits_160_then_153_per_segment() {
        assert_eq!(segments("a"), 1);
        assert_eq!(segments(&"a".repeat(160)), 1);
        assert_eq!(segments(&"a".repeat(161)), 2);
        assert_eq!(segments(&"a".repeat(306)), 2);
        assert_eq!(segments(&"a".repeat(307)), 3);
        // The extension table takes two septets: 80 euro signs fill one segment.
        assert_eq!(segments(&"€".repeat(80)), 1);
        assert_eq!(segments(&"€".repeat(81)), 2);
    }

    #[test]
    fn japanese_text_is_ucs2_70_then_67_per_segment() {
        assert_eq!(segments(&"障".repeat(70)), 1);
        assert_eq!(segments(&"障".repeat(71)), 2);
        assert_eq!(segments(&"障".repeat(134)), 2);
        assert_eq!(segments(&"障".repeat(135)), 3);
        // One non-GSM character makes the whole message UCS-2.
        assert_eq!(segments(&format!("{}障", "a".repeat(69))), 1);
        assert_eq!(segments(&format!("{}障", "a".repeat(70))), 2);
        // An emoji is two UTF-16 units.
        assert_eq!(segments(&"😀".repeat(35)), 1);
        assert_eq!(segments(&"😀".repeat(36)), 2);
        // What kaden sends when escalation runs out.
        let exhausted =
            "kaden: インシデント 12 は誰も認知しないまま全ラウンドの呼び出しが終わりました。";
        assert_eq!(segments(exhausted), 1);
    }
}
