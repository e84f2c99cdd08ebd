//! The `slate` command line: run processors, inspect run history, run the demo.

mod cli;

use std::process::ExitCode;

fn main() -> ExitCode {
    cli::init_logging();
    match cli::run() {
        Ok(code) => code,
        Err(error) => {
            // A refusal may quote a component's own words (a declared
            // table or column, a file name): shown escaped.
            let said = cli::one_line(&error);
            eprintln!("error: {}", slate::printable::lines(&said));
            cli::exit_code(&error)
        }
    }
}
