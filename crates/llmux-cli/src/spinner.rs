//! A spinner on stderr until the first token, saying which provider is being asked. Only used when stderr is
//! a terminal; it draws from its own thread and erases itself when stopped.

use std::fmt;
use std::io::{self, Write};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::Duration;

const FRAMES: [&str; 10] = ["⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"];
const TICK: Duration = Duration::from_millis(100);
/// Carriage return and "erase the whole line".
const CLEAR: &str = "\r\x1b[2K";

#[derive(Debug, Default)]
struct State {
    label: String,
    stopped: bool,
}

#[derive(Debug, Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is a label and a flag: a panic elsewhere cannot leave it inconsistent.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A running spinner; dropping it stops it.
pub struct Spinner {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl fmt::Debug for Spinner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Spinner").finish_non_exhaustive()
    }
}

impl Spinner {
    /// Starts a spinner showing `label` on stderr.
    pub fn start(label: impl Into<String>) -> Spinner {
        let shared = Arc::new(Shared::default());
        shared.lock().label = label.into();
        let drawer = Arc::clone(&shared);
        let thread = thread::Builder::new()
            .name("llmux-spinner".into())
            .spawn(move || draw(&drawer))
            .ok();
        Spinner { shared, thread }
    }

    /// Changes the text beside the spinner.
    pub fn set_label(&self, label: String) {
        self.shared.lock().label = label;
    }

    /// Prints a line above the spinner.
    pub fn print_above(&self, text: &str) -> io::Result<()> {
        let _state = self.shared.lock();
        let mut err = io::stderr().lock();
        writeln!(err, "{CLEAR}llmux: {text}")?;
        err.flush()
    }

    /// Stops the spinner and erases its line.
    pub fn stop(mut self) {
        self.halt();
    }

    fn halt(&mut self) {
        self.shared.lock().stopped = true;
        self.shared.wake.notify_all();
        if let Some(t) = self.thread.take() {
            // A panicked drawer has nothing left to clean up beyond the line erased below.
            let _ = t.join();
            let mut err = io::stderr().lock();
            let _ = write!(err, "{CLEAR}");
            let _ = err.flush();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.halt();
    }
}

fn draw(shared: &Shared) {
    let mut state = shared.lock();
    for frame in FRAMES.iter().cycle() {
        if state.stopped {
            return;
        }
        {
            let mut err = io::stderr().lock();
            let _ = write!(err, "{CLEAR}{frame} {}", state.label);
            let _ = err.flush();
        }
        state = match shared.wake.wait_timeout(state, TICK) {
            Ok((s, _)) => s,
            Err(e) => e.into_inner().0,
        };
    }
}
