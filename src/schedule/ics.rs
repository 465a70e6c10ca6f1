//! iCalendar (RFC 5545) feeds of on-call shifts, so people see them in a calendar app.

use super::Shift;
use crate::domain::ScheduleId;
use jiff::Timestamp;

/// One calendar entry.
pub struct Event<'a> {
    pub schedule: &'a ScheduleId,
    pub shift: &'a Shift,
    /// What the entry says ("On call: 山田 (infra-primary)").
    pub summary: String,
}

fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// Escapes TEXT values (RFC 5545 3.3.11).
fn text(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(';', "\\;")
        .replace(',', "\\,")
        .replace('\n', "\\n")
}

/// Folds a content line at 75 octets without splitting a UTF-8 character (3.1).
fn fold(line: &str, out: &mut String) {
    let mut width = 0;
    for c in line.chars() {
        if width + c.len_utf8() > 75 {
            out.push_str("\r\n ");
            width = 1;
        }
        out.push(c);
        width += c.len_utf8();
    }
    out.push_str("\r\n");
}

pub fn calendar(name: &str, events: &[Event], stamp: Timestamp) -> String {
    let mut out = String::new();
    for line in [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//kaden//on-call//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ] {
        fold(line, &mut out);
    }
    fold(&format!("X-WR-CALNAME:{}", text(name)), &mut out);
    for e in events {
        let user = e.shift.user.as_ref().map_or("nobody", |u| u.as_str());
        fold("BEGIN:VEVENT", &mut out);
        fold(
            &format!("UID:{}-{}-{}@kaden", e.schedule, utc(e.shift.start), user),
            &mut out,
        );
        fold(&format!("DTSTAMP:{}", utc(stamp)), &mut out);
        fold(&format!("DTSTART:{}", utc(e.shift.start)), &mut out);
        fold(&format!("DTEND:{}", utc(e.shift.end)), &mut out);
        fold(&format!("SUMMARY:{}", text(&e.summary)), &mut out);
        fold("TRANSP:TRANSPARENT", &mut out);
        fold("END:VEVENT", &mut out);
    }
    fold("END:VCALENDAR", &mut out);
    out
}
