//! Standard output that survives a closed pipe (`zksim simulate ... | head`): a write that
//! fails ends the process quietly with the status a SIGPIPE would give, instead of a panic.

use std::io::Write;

/// Writes `text` to standard output as is.
pub fn text(text: &str) {
    let mut out = std::io::stdout().lock();
    if out
        .write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        std::process::exit(141);
    }
}

/// Prints a line, like `println!`.
#[macro_export]
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::out::text(&format!("{}\n", format_args!($($arg)*)))
    };
}
