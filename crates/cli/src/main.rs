//! The `codevec` binary; all the work is in the `codevec_cli` library.

use clap::Parser;

fn main() {
    let cli = codevec_cli::cli::Cli::parse();
    if let Err(err) = codevec_cli::cli::run(cli) {
        eprintln!("codevec: error: {err:#}");
        std::process::exit(1);
    }
}
