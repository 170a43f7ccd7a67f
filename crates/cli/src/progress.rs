//! Progress reporting on stderr: an `indicatif` bar on a terminal, plain
//! periodic lines otherwise (logs, CI), nothing with `--quiet`.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::{Duration, Instant};

/// How often the plain-text reporter prints a line.
const PLAIN_INTERVAL: Duration = Duration::from_secs(2);

/// Reports files and rows processed.
pub struct Progress {
    mode: Mode,
    total: u64,
    files: u64,
    rows: u64,
}

enum Mode {
    Bar(ProgressBar),
    Plain { last: Instant },
    Hidden,
}

impl Mode {
    /// A bar with `template` if stderr is a terminal, plain lines if not, silence if `quiet`.
    fn new(total: u64, quiet: bool, template: &str) -> Mode {
        if quiet {
            Mode::Hidden
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(template)
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(200));
            Mode::Bar(bar)
        } else {
            Mode::Plain {
                last: Instant::now(),
            }
        }
    }
}

impl Progress {
    /// A reporter for `total` files: a bar if stderr is a terminal, plain
    /// lines if not, silence if `quiet`.
    pub fn new(total: u64, quiet: bool) -> Progress {
        let mode = Mode::new(
            total,
            quiet,
            "{spinner} [{elapsed_precise}] {bar:30.cyan/blue} {pos}/{len} files, {msg} ({eta} left)",
        );
        if let Mode::Bar(bar) = &mode {
            bar.set_message("0 rows");
        }
        Progress {
            mode,
            total,
            files: 0,
            rows: 0,
        }
    }

    /// Records one more file handled, which produced `rows` rows.
    pub fn file_done(&mut self, rows: u64) {
        self.files += 1;
        self.rows += rows;
        match &mut self.mode {
            Mode::Bar(bar) => {
                bar.set_position(self.files);
                bar.set_message(format!("{} rows", self.rows));
            }
            Mode::Plain { last } => {
                if last.elapsed() >= PLAIN_INTERVAL {
                    *last = Instant::now();
                    eprintln!(
                        "progress: {}/{} files, {} rows",
                        self.files, self.total, self.rows
                    );
                }
            }
            Mode::Hidden => {}
        }
    }

    /// Prints a message (a warning) on stderr without garbling the bar;
    /// printed even when quiet.
    pub fn println(&self, msg: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.println(msg),
            Mode::Plain { .. } | Mode::Hidden => eprintln!("{msg}"),
        }
    }

    /// Removes the bar (or prints the last plain line).
    pub fn finish(&mut self) {
        match &self.mode {
            Mode::Bar(bar) => bar.finish_and_clear(),
            Mode::Plain { .. } => {
                eprintln!(
                    "progress: {}/{} files, {} rows",
                    self.files, self.total, self.rows
                )
            }
            Mode::Hidden => {}
        }
    }
}

/// Reports how many of `total` items are done (`codevec load --wait`: rows embedded), in
/// the same three modes as [`Progress`].
pub struct Counter {
    mode: Mode,
    total: u64,
    what: &'static str,
}

impl Counter {
    /// `what` names the items in plain lines ("rows embedded").
    pub fn new(total: u64, quiet: bool, what: &'static str) -> Counter {
        let template = format!(
            "{{spinner}} [{{elapsed_precise}}] {{bar:30.cyan/blue}} {{pos}}/{{len}} {what} ({{per_sec}}, {{eta}} left)"
        );
        Counter {
            mode: Mode::new(total, quiet, &template),
            total,
            what,
        }
    }

    /// `done` items so far.
    pub fn set(&mut self, done: u64) {
        match &mut self.mode {
            Mode::Bar(bar) => bar.set_position(done),
            Mode::Plain { last } => {
                if last.elapsed() >= PLAIN_INTERVAL {
                    *last = Instant::now();
                    eprintln!("{done} of {} {}", self.total, self.what);
                }
            }
            Mode::Hidden => {}
        }
    }

    /// Prints a message on stderr without garbling the bar (not when quiet).
    pub fn println(&self, msg: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.println(msg),
            Mode::Plain { .. } => eprintln!("{msg}"),
            Mode::Hidden => {}
        }
    }

    /// Removes the bar.
    pub fn finish(&self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}
