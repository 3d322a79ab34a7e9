//! Guarded runs and the outcome table.
//!
//! [`guarded`] runs one request in a spawned task under a generous limit: a request that never ends is
//! counted as hung, one that panics as panicked (from [`tokio::task::JoinError::is_panic`]), and the suite
//! goes on. [`Row`] counts one cell's outcomes; [`Table`] renders the rows as the text the suites print.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::path::Path;
use std::time::Duration;

use llm_core::ErrorKind;

/// How a guarded run ended.
#[derive(Debug)]
pub enum Guarded<T> {
    /// The task finished with this value.
    Done(T),
    /// The limit passed first (the task was aborted).
    Hung,
    /// The task panicked.
    Panicked,
}

/// Runs `future` in its own task; gives up after `limit`.
pub async fn guarded<T, F>(limit: Duration, future: F) -> Guarded<T>
where
    F: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let task = tokio::spawn(future);
    let abort = task.abort_handle();
    match tokio::time::timeout(limit, task).await {
        Ok(Ok(value)) => Guarded::Done(value),
        Ok(Err(e)) if e.is_panic() => Guarded::Panicked,
        // Aborted from outside: nobody here aborts it, so this is as bad as a hang.
        Ok(Err(_)) => Guarded::Hung,
        Err(_) => {
            abort.abort();
            Guarded::Hung
        }
    }
}

/// One cell of a table: requests sent and how they ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Row {
    /// What the cell is (fault, format, mode, path).
    pub cell: String,
    /// Requests sent.
    pub sent: u32,
    /// Requests that succeeded.
    pub ok: u32,
    /// Failed requests by the kind of their error.
    pub failed: BTreeMap<&'static str, u32>,
    /// Requests still running at the limit.
    pub hung: u32,
    /// Requests whose task panicked.
    pub panicked: u32,
    /// A free-form remark (e.g. which entry answered, attempts made).
    pub note: String,
}

impl Row {
    /// An empty row named `cell`.
    pub fn new(cell: impl Into<String>) -> Self {
        Row {
            cell: cell.into(),
            ..Row::default()
        }
    }

    /// Counts one guarded outcome: `Ok(())` a success, `Err(kind)` a classified failure.
    pub fn count(&mut self, outcome: &Guarded<Result<(), ErrorKind>>) {
        self.sent += 1;
        match outcome {
            Guarded::Done(Ok(())) => self.ok += 1,
            Guarded::Done(Err(kind)) => *self.failed.entry(kind.as_str()).or_default() += 1,
            Guarded::Hung => self.hung += 1,
            Guarded::Panicked => self.panicked += 1,
        }
    }

    /// Failures of `kind`.
    pub fn failed_as(&self, kind: ErrorKind) -> u32 {
        self.failed.get(kind.as_str()).copied().unwrap_or(0)
    }

    /// All failures.
    pub fn failed_total(&self) -> u32 {
        self.failed.values().sum()
    }

    /// The failure kinds seen, e.g. `server:3 timeout:1`, or `-`.
    pub fn failed_text(&self) -> String {
        if self.failed.is_empty() {
            return "-".to_owned();
        }
        self.failed
            .iter()
            .map(|(k, n)| format!("{k}:{n}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Rows rendered as a fixed-width text table.
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The title line.
    pub title: String,
    /// The rows, in order.
    pub rows: Vec<Row>,
}

impl Table {
    /// An empty table with a title.
    pub fn new(title: impl Into<String>) -> Self {
        Table {
            title: title.into(),
            rows: Vec::new(),
        }
    }

    /// The table as text: one line per row plus a totals line.
    pub fn render(&self) -> String {
        let mut total = Row::new("total");
        for r in &self.rows {
            total.sent += r.sent;
            total.ok += r.ok;
            total.hung += r.hung;
            total.panicked += r.panicked;
            for (k, n) in &r.failed {
                *total.failed.entry(k).or_default() += n;
            }
        }
        let width = self
            .rows
            .iter()
            .map(|r| r.cell.len())
            .max()
            .unwrap_or(0)
            .max(5);
        let mut out = format!("{}\n", self.title);
        let _ = writeln!(
            out,
            "{:<width$} {:>5} {:>5} {:>6} {:>4} {:>5}  {:<30} note",
            "cell", "sent", "ok", "failed", "hung", "panic", "failed by kind"
        );
        for r in self.rows.iter().chain(std::iter::once(&total)) {
            let line = format!(
                "{:<width$} {:>5} {:>5} {:>6} {:>4} {:>5}  {:<30} {}",
                r.cell,
                r.sent,
                r.ok,
                r.failed_total(),
                r.hung,
                r.panicked,
                r.failed_text(),
                r.note
            );
            let _ = writeln!(out, "{}", line.trim_end());
        }
        out
    }

    /// Prints the table to stdout and writes it to `path`; returns the rendered text.
    ///
    /// # Errors
    /// When the file cannot be written.
    pub fn publish(&self, path: &Path) -> io::Result<String> {
        let text = self.render();
        println!("{text}");
        std::fs::write(path, &text)?;
        println!("(table written to {})", path.display());
        Ok(text)
    }
}
