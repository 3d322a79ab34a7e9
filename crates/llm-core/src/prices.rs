//! Price tables: rows of (provider, model) → [`Price`], looked up by exact model name, then by the name a
//! dated snapshot was taken of. Each provider crate ships its own table as a data file in this format; users
//! add and override rows with the same `[[price]]` tables.
//!
//! ```toml
//! [[price]]
//! provider = "openai"     # optional: a row without it matches every provider
//! model = "gpt-4o-mini"
//! input = 0.15            # USD per million uncached input tokens
//! output = 0.60           # USD per million output tokens (reasoning included)
//! cache_read = 0.075      # optional; default: input
//! cache_write = 0.1875    # optional; default: input
//! cache_write_1h = 0.30   # optional; default: cache_write
//! above_tokens = 200000   # optional: prompts of more input tokens than this use the *_above prices
//! input_above = 0.30      # (each *_above defaults to its base price)
//! output_above = 1.20
//! cache_read_above = 0.15
//! cache_write_above = 0.375
//! source = "https://…"    # optional: where the row was read
//! date = "2026-12-07"     # optional: when
//! ```
//!
//! A lookup never guesses a provider from a model name: a row names its provider or matches all of them.

use std::fmt;

use serde::Deserialize;

use crate::cost::{Price, Rates, Usd};

/// One row of a [`PriceTable`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceRow {
    /// The provider it applies to (`None`: every provider).
    pub provider: Option<String>,
    /// The model name, exactly as requested (or the name dated snapshots were taken of).
    pub model: String,
    /// The price.
    pub price: Price,
    /// Where the price was read, when known.
    pub source: Option<String>,
    /// When it was read, when known.
    pub date: Option<String>,
}

impl PriceRow {
    /// A row for `model` of `provider` (`None`: any provider) at `price`, with no source.
    pub fn new(provider: Option<&str>, model: impl Into<String>, price: Price) -> PriceRow {
        PriceRow {
            provider: provider.map(str::to_owned),
            model: model.into(),
            price,
            source: None,
            date: None,
        }
    }
}

/// A table of prices by (provider, model). Later rows override earlier ones of the same key
/// ([`PriceTable::insert`], [`PriceTable::overlay`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    rows: Vec<PriceRow>,
}

/// A price file that cannot be read as `[[price]]` tables; its `Display` names the row and the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PriceError(String);

impl fmt::Display for PriceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PriceError {}

/// One `[[price]]` table as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceEntry {
    provider: Option<String>,
    model: String,
    input: f64,
    output: f64,
    cache_read: Option<f64>,
    cache_write: Option<f64>,
    cache_write_1h: Option<f64>,
    above_tokens: Option<u64>,
    input_above: Option<f64>,
    output_above: Option<f64>,
    cache_read_above: Option<f64>,
    cache_write_above: Option<f64>,
    source: Option<String>,
    date: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PriceFile {
    #[serde(default)]
    price: Vec<PriceEntry>,
}

impl PriceEntry {
    /// The row this table describes, or what is wrong with it.
    pub fn into_row(self) -> Result<PriceRow, PriceError> {
        let model = self.model.trim();
        if model.is_empty() {
            return Err(PriceError("a [[price]] row has an empty `model`".into()));
        }
        let at = |key: &str, v: f64| {
            Usd::from_dollars(v).ok_or_else(|| {
                PriceError(format!(
                    "[[price]] `{model}`: `{key}` = {v} is not a price (USD per million tokens, zero or more)"
                ))
            })
        };
        let input = at("input", self.input)?;
        let output = at("output", self.output)?;
        let mut rates = Rates::new(input, output);
        if let Some(v) = self.cache_read {
            rates = rates.cache_read(at("cache_read", v)?);
        }
        if let Some(v) = self.cache_write {
            rates = rates.cache_write(at("cache_write", v)?);
        }
        if let Some(v) = self.cache_write_1h {
            rates = rates.cache_write_1h(at("cache_write_1h", v)?);
        }
        let mut price = Price::new(rates);
        let tiered = [
            self.input_above,
            self.output_above,
            self.cache_read_above,
            self.cache_write_above,
        ];
        match self.above_tokens {
            Some(threshold) => {
                let pick =
                    |key: &str, v: Option<f64>, base: Usd| v.map_or(Ok(base), |v| at(key, v));
                let mut long = rates;
                long.input = pick("input_above", self.input_above, rates.input)?;
                long.output = pick("output_above", self.output_above, rates.output)?;
                long.cache_read =
                    pick("cache_read_above", self.cache_read_above, rates.cache_read)?;
                long.cache_write = pick(
                    "cache_write_above",
                    self.cache_write_above,
                    rates.cache_write,
                )?;
                price = price.above(threshold, long);
            }
            None if tiered.iter().any(Option::is_some) => {
                return Err(PriceError(format!(
                    "[[price]] `{model}`: an `*_above` price needs `above_tokens`"
                )));
            }
            None => {}
        }
        Ok(PriceRow {
            provider: self.provider.filter(|p| !p.trim().is_empty()),
            model: model.to_owned(),
            price,
            source: self.source,
            date: self.date,
        })
    }
}

impl PriceTable {
    /// An empty table.
    pub fn new() -> PriceTable {
        PriceTable::default()
    }

    /// The table of a TOML document of `[[price]]` tables. Two rows for the same (provider, model) are an
    /// error, as is any key the format does not have.
    pub fn from_toml(text: &str) -> Result<PriceTable, PriceError> {
        let file: PriceFile = toml::from_str(text).map_err(|e| PriceError(e.to_string()))?;
        PriceTable::from_entries(file.price)
    }

    /// The table of `[[price]]` tables already read (from a chain file, say). Two rows for the same
    /// (provider, model) are an error.
    pub fn from_entries(entries: Vec<PriceEntry>) -> Result<PriceTable, PriceError> {
        let mut table = PriceTable::new();
        for entry in entries {
            let row = entry.into_row()?;
            if table
                .position(row.provider.as_deref(), &row.model)
                .is_some()
            {
                return Err(PriceError(format!(
                    "two [[price]] rows for `{}`{}",
                    row.model,
                    row.provider
                        .as_deref()
                        .map(|p| format!(" of `{p}`"))
                        .unwrap_or_default()
                )));
            }
            table.rows.push(row);
        }
        Ok(table)
    }

    fn position(&self, provider: Option<&str>, model: &str) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.provider.as_deref() == provider && r.model == model)
    }

    /// The table a provider crate ships as data (its `prices.toml`). A table that does not read is empty,
    /// never a panic: each crate's test reads its own with [`PriceTable::check_shipped`].
    pub fn shipped(text: &str) -> PriceTable {
        PriceTable::from_toml(text).unwrap_or_default()
    }

    /// Reads a shipped table strictly: it must read, have rows, and every row must be `provider`'s and
    /// say where (an `https://` source) and when (a date) it was read.
    pub fn check_shipped(text: &str, provider: &str) -> Result<PriceTable, String> {
        let table = PriceTable::from_toml(text).map_err(|e| e.to_string())?;
        if table.is_empty() {
            return Err("no [[price]] rows".to_owned());
        }
        for row in table.rows() {
            if row.provider.as_deref() != Some(provider) {
                return Err(format!("`{}` is not a row of `{provider}`", row.model));
            }
            if !row
                .source
                .as_deref()
                .is_some_and(|s| s.starts_with("https://"))
            {
                return Err(format!("`{}` has no https:// source", row.model));
            }
            if row.date.is_none() {
                return Err(format!("`{}` has no date", row.model));
            }
        }
        Ok(table)
    }

    /// Adds `row`, replacing a row of the same (provider, model).
    pub fn insert(&mut self, row: PriceRow) {
        match self.position(row.provider.as_deref(), &row.model) {
            Some(i) => self.rows[i] = row,
            None => self.rows.push(row),
        }
    }

    /// Adds every row of `other`, which win over rows of the same (provider, model) here.
    pub fn overlay(&mut self, other: &PriceTable) {
        for row in &other.rows {
            self.insert(row.clone());
        }
    }

    /// Every row, in order.
    pub fn rows(&self) -> &[PriceRow] {
        &self.rows
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The row that prices `model` of `provider`: a row of that provider for exactly that model, else a
    /// row of any provider for it; then the same for the name a dated snapshot was taken of
    /// (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, `claude-sonnet-4-5-20250929` → `claude-sonnet-4-5`,
    /// `claude-sonnet-4-5@20250929` → `claude-sonnet-4-5`, `gemini-2.0-flash-001` → `gemini-2.0-flash`).
    pub fn lookup(&self, provider: &str, model: &str) -> Option<&PriceRow> {
        let exact = |model: &str| {
            self.rows
                .iter()
                .find(|r| r.provider.as_deref() == Some(provider) && r.model == model)
                .or_else(|| {
                    self.rows
                        .iter()
                        .find(|r| r.provider.is_none() && r.model == model)
                })
        };
        exact(model).or_else(|| snapshot_of(model).and_then(exact))
    }

    /// The price of `model` of `provider`, by [`PriceTable::lookup`].
    pub fn price(&self, provider: &str, model: &str) -> Option<Price> {
        self.lookup(provider, model).map(|r| r.price)
    }
}

/// Where a provider's prices come from: the table its crate ships, nothing (a local server), or nowhere
/// known (a server of unknown prices, such as a router or a deployment of any name).
#[derive(Debug, Clone, Copy, Default)]
pub enum Pricing {
    /// No price is known: costs are unknown.
    #[default]
    Unknown,
    /// Every model is free (a server on the user's own machine).
    Free,
    /// Every model at this one price (a server that charges by the token whatever the model).
    Flat(Price),
    /// Prices from this table, for the provider named by the second field.
    Table(&'static PriceTable, &'static str),
}

impl Pricing {
    /// The price of `model`.
    pub fn price(&self, model: &str) -> Option<Price> {
        match self {
            Pricing::Unknown => None,
            Pricing::Free => Some(Price::FREE),
            Pricing::Flat(price) => Some(*price),
            Pricing::Table(table, provider) => table.price(provider, model),
        }
    }
}

/// The model a dated or numbered snapshot name was taken of, when `model` is one.
fn snapshot_of(model: &str) -> Option<&str> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    // `-YYYY-MM-DD`
    if model.len() > 11 {
        let (base, tail) = model.split_at(model.len() - 11);
        let b = tail.as_bytes();
        if b[0] == b'-'
            && b[5] == b'-'
            && b[8] == b'-'
            && digits(&tail[1..5], 4)
            && digits(&tail[6..8], 2)
            && digits(&tail[9..], 2)
        {
            return Some(base);
        }
    }
    // `-YYYYMMDD`, `@YYYYMMDD`, `-NNN`
    let (base, tail) = model.rsplit_once(['-', '@'])?;
    let dated = digits(tail, 8) && tail.starts_with("20");
    let numbered = digits(tail, 3) && model.as_bytes()[base.len()] == b'-';
    (!base.is_empty() && (dated || numbered)).then_some(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"
[[price]]
provider = "openai"
model = "gpt-4o-mini"
input = 0.15
output = 0.60
cache_read = 0.075

[[price]]
model = "shared-model"
input = 1
output = 2

[[price]]
provider = "gemini"
model = "gemini-2.5-pro"
input = 1.25
output = 10
cache_read = 0.31
above_tokens = 200000
input_above = 2.5
output_above = 15
source = "https://example.test/pricing"
date = "2026-12-07"
"#;

    #[test]
    fn a_file_reads_into_rows_with_defaults() {
        let t = PriceTable::from_toml(FILE).unwrap();
        assert_eq!(t.rows().len(), 3);
        let mini = t.price("openai", "gpt-4o-mini").unwrap();
        assert_eq!(mini.rates.cache_read, Usd::from_dollars(0.075).unwrap());
        assert_eq!(
            mini.rates.cache_write, mini.rates.input,
            "cache writes default to input"
        );
        let pro = t.lookup("gemini", "gemini-2.5-pro").unwrap();
        assert_eq!(pro.date.as_deref(), Some("2026-12-07"));
        let (at, long) = pro.price.above.unwrap();
        assert_eq!(at, 200_000);
        assert_eq!(long.output, Usd::from_dollars(15.0).unwrap());
        assert_eq!(
            long.cache_read, pro.price.rates.cache_read,
            "an unset *_above price is the base price"
        );
    }

    #[test]
    fn lookups_are_exact_then_by_snapshot_and_never_cross_providers() {
        let t = PriceTable::from_toml(FILE).unwrap();
        assert!(t.lookup("openai", "gpt-4o-mini-2024-07-18").is_some());
        assert!(
            t.lookup("azure", "gpt-4o-mini").is_none(),
            "a row of one provider is not another's"
        );
        assert!(t.lookup("openai", "gpt-4o").is_none());
        assert!(
            t.lookup("openai", "gpt-4o-mini-high").is_none(),
            "no prefix guessing"
        );
        assert!(t.lookup("anything", "shared-model").is_some());
        assert!(t.lookup("anything", "shared-model@20250101").is_some());
        assert!(t.lookup("anything", "shared-model-001").is_some());
        assert!(t.lookup("anything", "shared-model-20250101").is_some());
        assert!(
            t.lookup("anything", "shared-model-2").is_none(),
            "a version is not a snapshot"
        );
    }

    #[test]
    fn snapshot_names() {
        assert_eq!(snapshot_of("gpt-4o-mini-2024-07-18"), Some("gpt-4o-mini"));
        assert_eq!(
            snapshot_of("claude-sonnet-4-5-20250929"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            snapshot_of("claude-sonnet-4-5@20250929"),
            Some("claude-sonnet-4-5")
        );
        assert_eq!(
            snapshot_of("gemini-2.0-flash-001"),
            Some("gemini-2.0-flash")
        );
        assert_eq!(snapshot_of("gpt-4o"), None);
        assert_eq!(snapshot_of("o1"), None);
        assert_eq!(snapshot_of("claude-3-5-haiku"), None);
        assert_eq!(snapshot_of("-2024-07-18"), None);
    }

    #[test]
    fn bad_rows_say_what_is_wrong() {
        let err = |text: &str| PriceTable::from_toml(text).unwrap_err().to_string();
        assert!(
            err("[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\ncolour = 1\n").contains("colour")
        );
        assert!(err("[[price]]\nmodel = \"m\"\ninput = -1\noutput = 1\n").contains("`input`"));
        assert!(err("[[price]]\nmodel = \"m\"\ninput = 1\n").contains("output"));
        assert!(
            err("[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\ninput_above = 2\n")
                .contains("above_tokens")
        );
        let twice = "[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\n".repeat(2);
        assert!(err(&twice).contains("two [[price]] rows"));
        assert!(PriceTable::from_toml("").unwrap().is_empty());
    }

    #[test]
    fn a_shipped_table_must_say_whose_each_row_is_and_where_it_came_from() {
        let row = |extra: &str| format!("[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\n{extra}");
        let good = row("provider = \"p\"\nsource = \"https://x.test\"\ndate = \"2026-12-07\"\n");
        assert!(PriceTable::check_shipped(&good, "p").is_ok());
        assert!(
            PriceTable::check_shipped(&good, "q")
                .unwrap_err()
                .contains("not a row of")
        );
        let unsourced = row("provider = \"p\"\ndate = \"2026-12-07\"\n");
        assert!(
            PriceTable::check_shipped(&unsourced, "p")
                .unwrap_err()
                .contains("source")
        );
        let undated = row("provider = \"p\"\nsource = \"https://x.test\"\n");
        assert!(
            PriceTable::check_shipped(&undated, "p")
                .unwrap_err()
                .contains("date")
        );
        assert!(PriceTable::check_shipped("", "p").is_err());
        assert!(
            PriceTable::shipped("not toml [").is_empty(),
            "never a panic"
        );
    }

    #[test]
    fn an_overlay_wins_row_by_row() {
        let mut t = PriceTable::from_toml(FILE).unwrap();
        let mine = PriceTable::from_toml(
            "[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ninput = 9\noutput = 9\n",
        )
        .unwrap();
        t.overlay(&mine);
        assert_eq!(t.rows().len(), 3);
        assert_eq!(
            t.price("openai", "gpt-4o-mini").unwrap().rates.input,
            Usd::from_dollars(9.0).unwrap()
        );
    }
}
