//! Progress of transfers on stderr: a bar (bytes, and files for the multi-file commands) only when
//! stderr is a terminal and `--silent` was not given; otherwise nothing, so logs and pipes get only the
//! commands' final summary.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct Progress {
    bar: Option<ProgressBar>,
    files: Option<Arc<(AtomicUsize, usize)>>,
}

impl Progress {
    /// Whether a bar would be shown.
    pub fn wanted(silent: bool) -> bool {
        !silent && std::io::stderr().is_terminal()
    }

    /// A bar for `total_bytes` (unknown: a spinner with a byte count), counting `files` if given.
    pub fn new(
        silent: bool,
        label: &str,
        total_bytes: Option<u64>,
        files: Option<usize>,
    ) -> Progress {
        if !Progress::wanted(silent) {
            return Progress::default();
        }
        let bar = match total_bytes {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = if total_bytes.is_some() {
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {msg} ({bytes_per_sec}, {eta})"
        } else {
            "{prefix} {spinner} {bytes} {msg} ({bytes_per_sec})"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(label.to_string());
        let files = files.map(|total| Arc::new((AtomicUsize::new(0), total)));
        if let Some(files) = &files {
            bar.set_message(format!("0/{} files", files.1));
        }
        Progress {
            bar: Some(bar),
            files,
        }
    }

    pub fn add_bytes(&self, bytes: u64) {
        if let Some(bar) = &self.bar {
            bar.inc(bytes);
        }
    }

    pub fn file_done(&self) {
        if let (Some(bar), Some(files)) = (&self.bar, &self.files) {
            let done = files.0.fetch_add(1, Ordering::Relaxed) + 1;
            bar.set_message(format!("{done}/{} files", files.1));
        }
    }

    /// Leave the bar's last state on the terminal.
    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish();
        }
    }
}
