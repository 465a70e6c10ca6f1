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
            eprintln!("kaden: {e:#}");
            ExitCode::FAILURE
        }
    }
}
