//! The `slate` command line: run processors, inspect run history, run the demo.

mod cli;

use std::io::Write as _;
use std::process::ExitCode;

fn main() -> ExitCode {
    cli::init_logging();
    match cli::run() {
        Ok(code) => code,
        Err(error) => {
            // A refusal may quote a component's own words (a declared
            // table or column, a file name): shown escaped.
            let said = cli::one_line(&error);
            // Written as `eprintln!` would, without its panic where stderr
            // takes nothing (a full disk): the exit code still tells.
            let _ = writeln!(
                std::io::stderr(),
                "error: {}",
                slate::printable::lines(&said)
            );
            if let Some(what) = cli::ran_out(&error) {
                let _ = writeln!(std::io::stderr(), "note: {what}");
            }
            cli::exit_code(&error)
        }
    }
}
