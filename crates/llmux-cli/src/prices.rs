//! `llmux prices [MODEL…]`: the price table in force, as `chat`, `embed` and `serve` would charge with it:
//! the tables the provider crates ship, under a `--prices` file's rows, under a chain file's `[[price]]`
//! rows; and the local servers, which cost nothing. Each row says where and when it was read.

use std::io::Write;
use std::path::Path;

use llmux::{PriceRow, PriceTable, Rates, Usd};
use serde_json::{Value, json};

use crate::args::PricesArgs;
use crate::env::Env;
use crate::exit;
use crate::spec::{self, ConfigError};

/// The providers whose servers run on the user's machine: every model costs nothing.
const FREE: [&str; 2] = ["llamacpp", "ollama"];

/// The tables every provider crate ships, in one table.
pub fn shipped() -> PriceTable {
    let mut table = PriceTable::new();
    for shipped in [
        llmux::openai::prices(),
        llmux::claude::prices(),
        llmux::gemini::prices(),
    ] {
        table.overlay(shipped);
    }
    table
}

/// The table in force: the shipped rows, under the `--prices` file's, under the chain file's.
pub fn in_force(
    prices: Option<&Path>,
    chain: Option<&Path>,
    env: &Env,
) -> Result<PriceTable, ConfigError> {
    let mut table = shipped();
    if let Some(path) = prices {
        table.overlay(&spec::read_prices(path)?);
    }
    if let Some(path) = chain {
        let select = crate::args::SelectArgs {
            chain: Some(path.to_path_buf()),
            ..crate::args::SelectArgs::default()
        };
        table.overlay(&spec::resolve(&select, env)?.prices);
    }
    Ok(table)
}

/// Runs `llmux prices`.
pub fn run(args: &PricesArgs, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let table = match in_force(
        args.prices.prices_file.as_deref(),
        args.chain.as_deref(),
        env,
    ) {
        Ok(t) => t,
        Err(e) => {
            let _ = writeln!(err, "llmux: {}", e.0);
            return exit::CONFIG;
        }
    };
    let mut rows: Vec<&PriceRow> = Vec::new();
    for model in &args.models {
        let found: Vec<&PriceRow> = table
            .rows()
            .iter()
            .filter(|r| {
                let provider = r.provider.as_deref().unwrap_or_default();
                table
                    .lookup(provider, model)
                    .is_some_and(|l| std::ptr::eq(l, *r))
            })
            .collect();
        if found.is_empty() && !FREE.is_empty() {
            let _ = writeln!(
                err,
                "llmux: no price is known for `{model}` (local servers, {}, cost nothing): add a [[price]] row \
                 with --prices FILE or to the chain file",
                FREE.join(" and ")
            );
        }
        for row in found {
            if !rows.iter().any(|r| std::ptr::eq(*r, row)) {
                rows.push(row);
            }
        }
    }
    if args.models.is_empty() {
        rows = table.rows().iter().collect();
    }
    let written = if args.json {
        json_lines(&rows, args.models.is_empty(), out)
    } else {
        text(&rows, args.models.is_empty(), out)
    };
    match written {
        Ok(()) => exit::OK,
        Err(_) => exit::OTHER,
    }
}

fn dollars(usd: Usd) -> Value {
    json!(usd.as_dollars())
}

fn rates_json(r: &Rates) -> Value {
    json!({
        "input": dollars(r.input),
        "output": dollars(r.output),
        "cache_read": dollars(r.cache_read),
        "cache_write": dollars(r.cache_write),
        "cache_write_1h": dollars(r.cache_write_1h),
    })
}

/// One JSON object per row: provider, model, the five rates, the long-prompt tier (`above`: `null` or
/// `{"tokens", rates…}`), source and date; the local servers as rows of model `*`.
fn json_lines(rows: &[&PriceRow], all: bool, out: &mut dyn Write) -> std::io::Result<()> {
    for row in rows {
        let mut v = rates_json(&row.price.rates);
        v["provider"] = json!(row.provider);
        v["model"] = json!(row.model);
        v["above"] = match &row.price.above {
            Some((tokens, rates)) => {
                let mut above = rates_json(rates);
                above["tokens"] = json!(tokens);
                above
            }
            None => Value::Null,
        };
        v["source"] = json!(row.source);
        v["date"] = json!(row.date);
        writeln!(out, "{v}")?;
    }
    if all {
        for provider in FREE {
            let mut v = rates_json(&Rates::default());
            v["provider"] = json!(provider);
            v["model"] = json!("*");
            v["above"] = Value::Null;
            v["source"] = json!("local server");
            v["date"] = Value::Null;
            writeln!(out, "{v}")?;
        }
    }
    Ok(())
}

/// A table for people: one line per row, prices in USD per million tokens.
fn text(rows: &[&PriceRow], all: bool, out: &mut dyn Write) -> std::io::Result<()> {
    let mut lines = vec![[
        "provider".to_owned(),
        "model".to_owned(),
        "input".to_owned(),
        "output".to_owned(),
        "cache read".to_owned(),
        "cache write".to_owned(),
        "1h write".to_owned(),
        "date".to_owned(),
        "source".to_owned(),
    ]];
    for row in rows {
        let r = &row.price.rates;
        lines.push([
            row.provider.clone().unwrap_or_else(|| "*".to_owned()),
            row.model.clone(),
            r.input.to_string(),
            r.output.to_string(),
            r.cache_read.to_string(),
            r.cache_write.to_string(),
            r.cache_write_1h.to_string(),
            row.date.clone().unwrap_or_else(|| "-".to_owned()),
            row.source.clone().unwrap_or_else(|| "-".to_owned()),
        ]);
        if let Some((tokens, a)) = &row.price.above {
            lines.push([
                String::new(),
                format!("  above {tokens} input tokens"),
                a.input.to_string(),
                a.output.to_string(),
                a.cache_read.to_string(),
                a.cache_write.to_string(),
                a.cache_write_1h.to_string(),
                String::new(),
                String::new(),
            ]);
        }
    }
    let widths: Vec<usize> = (0..9)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    writeln!(out, "USD per million tokens")?;
    for line in &lines {
        let mut text = String::new();
        for (c, cell) in line.iter().enumerate() {
            if c + 1 == line.len() {
                text.push_str(cell);
            } else {
                text.push_str(&format!("{cell:<w$}  ", w = widths[c]));
            }
        }
        writeln!(out, "{}", text.trim_end())?;
    }
    if all {
        writeln!(
            out,
            "{}: every model 0 (a server on this machine)",
            FREE.join(", ")
        )?;
    }
    Ok(())
}
