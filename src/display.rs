//! How the CLI shows things to people: aligned columns (Japanese names are two columns
//! wide) and times in `locale.timezone`, to the second.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use unicode_width::UnicodeWidthStr;

/// `2026-12-01 16:22:06 JST` for a stored or API time; the text as it is if it is not one.
pub fn local_time(time: &str, zone: &TimeZone) -> String {
    match time.parse::<Timestamp>() {
        Ok(t) => stamp(t, zone),
        Err(_) => time.to_owned(),
    }
}

pub fn stamp(t: Timestamp, zone: &TimeZone) -> String {
    t.to_zoned_datetime(zone.clone())
        .strftime("%Y-%m-%d %H:%M:%S %Z")
        .to_string()
}

/// Columns padded to their widest cell; the last column is not padded.
pub fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.width());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| {
        let mut out = String::new();
        for (i, cell) in cells.enumerate() {
            if i + 1 < widths.len() {
                out.push_str(cell);
                out.push_str(&" ".repeat(widths[i] - cell.width() + 2));
            } else {
                out.push_str(cell);
            }
        }
        out.trim_end().to_owned()
    };
    let mut out = line(&mut headers.iter().copied());
    out.push('\n');
    for row in rows {
        out.push_str(&line(&mut row.iter().map(String::as_str)));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_local_to_the_second() {
        let tokyo = TimeZone::get("Asia/Tokyo").unwrap();
        assert_eq!(
            local_time("2026-12-01T07:22:06.840399870Z", &tokyo),
            "2026-12-01 16:22:06 JST"
        );
        assert_eq!(local_time("(unknown)", &tokyo), "(unknown)");
    }

    #[test]
    fn wide_characters_keep_columns_aligned() {
        let out = table(
            &["WHO", "WHEN"],
            &[
                vec!["山田 (yamada)".into(), "now".into()],
                vec!["bob".into(), "later".into()],
            ],
        );
        let lines: Vec<&str> = out.lines().collect();
        let column = |l: &str, word: &str| l[..l.find(word).unwrap()].width();
        assert_eq!(column(lines[0], "WHEN"), column(lines[1], "now"));
        assert_eq!(column(lines[1], "now"), column(lines[2], "later"));
    }
}
