//! The commands' errors, and the one place a command's result becomes the process's exit
//! code and what it prints on failure.
//!
//! A command returns `Ok(code)` for a verdict (0 passed, 1 failed, 3 a `check` a limit
//! stopped) and `Err(CliError)` when it could not do its work (a bad input file, a trace
//! that is not one, an unknown recipe, a flag out of range, an output it could not write):
//! [`exit`] prints `error: ...` and exits 2 for those.
//!
//! ```
//! use zksim::exit::{code_of, CliError};
//!
//! let unknown = zksim_sim::recipes::find("nope").err().unwrap();
//! let err = CliError::from(unknown);
//! assert!(matches!(err, CliError::Sim(zksim_sim::Error::UnknownRecipe(_))));
//! assert_eq!(code_of(&err), 2);
//! assert!(err.to_string().starts_with("unknown recipe \"nope\""));
//! ```

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// An error of the library, as it shows it.
    #[error(transparent)]
    Sim(#[from] zksim_sim::Error),
    /// An error of the library about a file it was given as text, shown after the file's
    /// name (`t.jsonl: line 3: ...`).
    #[error("{}: {error}", .file.display())]
    InFile {
        /// The file.
        file: PathBuf,
        /// What is wrong with it.
        error: zksim_sim::Error,
    },
    /// Anything else a command refuses (flags that do not fit together, a shard that does
    /// not fit, a server that does not start), as its message.
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// A library error about the text of `file`.
    pub fn in_file(file: &Path, error: impl Into<zksim_sim::Error>) -> CliError {
        CliError::InFile {
            file: file.to_path_buf(),
            error: error.into(),
        }
    }
}

impl From<String> for CliError {
    fn from(message: String) -> CliError {
        CliError::Other(message)
    }
}

impl From<&str> for CliError {
    fn from(message: &str) -> CliError {
        CliError::Other(message.to_string())
    }
}

/// Each area's error of the library goes through `?` as it is.
macro_rules! from_sim {
    ($($t:ty),*) => {
        $(impl From<$t> for CliError {
            fn from(e: $t) -> CliError {
                CliError::Sim(e.into())
            }
        })*
    };
}

from_sim!(
    zksim_sim::error::InputError,
    zksim_sim::error::TraceError,
    zksim_sim::error::UnknownRecipe,
    zksim_sim::error::RunError,
    zksim_sim::error::ReplayError,
    zksim_sim::error::ShrinkError,
    zksim_sim::error::WriteError,
    zksim_sim::error::PlanError
);

/// A verdict's exit code: 0 if it passed, 1 if not.
pub fn passed(ok: bool) -> u8 {
    u8::from(!ok)
}

/// The exit code of a command that could not do its work: 2, whatever the reason (every
/// command's help says "2 bad input").
pub fn code_of(error: &CliError) -> u8 {
    match error {
        CliError::Sim(_) | CliError::InFile { .. } | CliError::Other(_) => 2,
    }
}

/// Ends a command: its verdict's code, or `error: ...` on standard error and
/// [`code_of`] the error.
pub fn exit(result: Result<u8, CliError>) -> ExitCode {
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(code_of(&e))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Goal: a library error about a named file reads as the file's name, then the library's
    // message, and keeps its variant.
    #[test]
    fn an_error_in_a_file_is_shown_after_the_file_s_name() {
        let err = zksim_sim::trace::parse("").unwrap_err();
        let shown = err.to_string();
        let cli = CliError::in_file(Path::new("t.jsonl"), err);
        assert_eq!(cli.to_string(), format!("t.jsonl: {shown}"));
        assert!(matches!(
            cli,
            CliError::InFile {
                error: zksim_sim::Error::Trace(zksim_sim::error::TraceError::Empty),
                ..
            }
        ));
        assert_eq!(code_of(&cli), 2);
    }

    // Goal: a verdict's code is 0 for a pass and 1 for a failure; a message of the CLI's own
    // is shown as it is and exits 2.
    #[test]
    fn verdicts_and_messages_get_their_codes() {
        assert_eq!((passed(true), passed(false)), (0, 1));
        let cli = CliError::from("--trace takes one scenario");
        assert_eq!(cli.to_string(), "--trace takes one scenario");
        assert_eq!(code_of(&cli), 2);
    }
}
