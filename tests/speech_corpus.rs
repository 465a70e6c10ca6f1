//! How naturally kaden reads real alert texts: the share of tests/speech_corpus.tsv read
//! exactly as accepted, with no Latin letter left for a Japanese voice. Printed; held at
//! 95 % or more.

use kaden::pronunciation::{DigitNames, Pronunciation};

struct Part {
    name: String,
    total: usize,
    natural: usize,
}

#[test]
fn alert_texts_are_read_naturally() {
    let rules = Pronunciation::builtin(DigitNames::Japanese);
    let corpus = include_str!("speech_corpus.tsv");
    let mut parts: Vec<Part> = Vec::new();
    let mut misses = Vec::new();
    for (n, line) in corpus.lines().enumerate() {
        if let Some(name) = line.strip_prefix("# Part ") {
            parts.push(Part {
                name: name.trim_end_matches('.').to_owned(),
                total: 0,
                natural: 0,
            });
            continue;
        }
        if line.starts_with('#') || line.is_empty() {
            continue;
        }
        let (text, accepted) = line
            .split_once('\t')
            .unwrap_or_else(|| panic!("speech_corpus.tsv:{}: TEXT<TAB>READING", n + 1));
        assert!(
            !accepted.chars().any(|c| c.is_ascii_alphabetic()),
            "speech_corpus.tsv:{}: an accepted reading has Latin letters",
            n + 1
        );
        let reading = rules.apply(text);
        let part = parts.last_mut().expect("a # Part line comes first");
        part.total += 1;
        if reading == accepted && !reading.chars().any(|c| c.is_ascii_alphabetic()) {
            part.natural += 1;
        } else {
            misses.push(format!(
                "{}: {text}\n  read:   {reading}\n  wanted: {accepted}",
                n + 1
            ));
        }
    }
    let total: usize = parts.iter().map(|p| p.total).sum();
    let natural: usize = parts.iter().map(|p| p.natural).sum();
    for p in &parts {
        println!(
            "part {}: {}/{} read naturally ({:.1} %)",
            p.name.split(':').next().unwrap_or_default(),
            p.natural,
            p.total,
            100.0 * p.natural as f64 / p.total as f64
        );
    }
    let share = natural as f64 / total as f64;
    println!(
        "corpus: {natural}/{total} alert texts read naturally ({:.1} %)",
        share * 100.0
    );
    println!("{}", misses.join("\n"));
    assert!(total >= 300, "the corpus has only {total} texts");
    assert!(
        share >= 0.95,
        "{:.1} % read naturally; below 95 %",
        share * 100.0
    );
}
