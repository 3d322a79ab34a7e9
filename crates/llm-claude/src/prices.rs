//! The prices of Anthropic's models: `prices.toml` beside this crate's manifest, a `[[price]]` table per model
//! with the page it was read from and the date it was read.

use std::sync::LazyLock;

use llm_core::PriceTable;

/// The provider name the shipped rows are written for.
pub(crate) const PROVIDER: &str = "claude";

static PRICES: LazyLock<PriceTable> =
    LazyLock::new(|| PriceTable::shipped(include_str!("../prices.toml")));

/// The prices this crate ships, USD per million tokens (users add and override rows: see
/// [`PriceTable::overlay`]).
pub fn prices() -> &'static PriceTable {
    &PRICES
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd(dollars: f64) -> llm_core::Usd {
        llm_core::Usd::from_dollars(dollars).unwrap()
    }

    #[test]
    fn the_shipped_table_reads_and_every_row_says_where_it_came_from() {
        PriceTable::check_shipped(include_str!("../prices.toml"), PROVIDER).unwrap();
    }

    /// Anthropic's `input_tokens` exclude cache reads and writes; the codec adds them, so `Usage` counts the
    /// whole prompt, and each part is priced once at its own rate (1-hour writes at theirs).
    #[test]
    fn claude_usage_is_priced_by_its_counting_rule() {
        let body = br#"{"id":"msg","type":"message","role":"assistant","model":"m",
            "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":100,"output_tokens":50,"cache_read_input_tokens":4000,
            "cache_creation_input_tokens":3000,
            "cache_creation":{"ephemeral_5m_input_tokens":2000,"ephemeral_1h_input_tokens":1000}}}"#;
        let r = crate::response::decode("claude", "m", None, body).unwrap();
        let u = r.usage.unwrap();
        assert_eq!(u.input_tokens, Some(7_100));
        assert_eq!(u.cache_write_1h_input_tokens, Some(1_000));
        let price = llm_core::Price::new(
            llm_core::Rates::new(usd(3.0), usd(15.0))
                .cache_read(usd(0.3))
                .cache_write(usd(3.75))
                .cache_write_1h(usd(6.0)),
        );
        let expected =
            (100.0 * 3.0 + 4_000.0 * 0.3 + 2_000.0 * 3.75 + 1_000.0 * 6.0 + 50.0 * 15.0) / 1e6;
        assert_eq!(price.cost(&u), Some(llm_core::Cost::exact(usd(expected))));
    }
}
