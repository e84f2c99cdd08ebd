//! The `slate` command line: run processors, inspect run history, run the demo.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::init_logging();
    match cli::run() {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {}", cli::one_line(&error));
            cli::exit_code(&error)
        }
    }
}
