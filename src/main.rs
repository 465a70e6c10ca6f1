use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = kaden::cli::Cli::parse();
    // The notification commands log nothing; setting up logging was a tenth of their run.
    if !cli.command.is_notification()
        && let Err(e) = kaden::telemetry::init(cli.globals.log_format)
    {
        eprintln!("kaden: cannot set up logging: {e:#}");
        return ExitCode::from(2);
    }
    match kaden::cli::run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("kaden: {}", message(&e));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes, leaving out a cause the text before already says (a
/// message that quotes its source would otherwise repeat it).
fn message(e: &anyhow::Error) -> String {
    e.chain().skip(1).fold(e.to_string(), |text, cause| {
        let cause = cause.to_string();
        if text.contains(&cause) {
            text
        } else {
            format!("{text}: {cause}")
        }
    })
}
