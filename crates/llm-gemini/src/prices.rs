//! The prices of Google's models: `prices.toml` beside this crate's manifest, a `[[price]]` table per model
//! with the page it was read from and the date it was read.

use std::sync::LazyLock;

use llm_core::PriceTable;

/// The provider name the shipped rows are written for.
pub(crate) const PROVIDER: &str = "gemini";

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

    /// Gemini's `promptTokenCount` includes the cached content (`cachedContentTokenCount`), and its
    /// thoughts (`thoughtsTokenCount`) are billed as output beside `candidatesTokenCount`.
    #[test]
    fn gemini_usage_is_priced_by_its_counting_rule() {
        let body = br#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},
            "finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":1000,
            "cachedContentTokenCount":600,"candidatesTokenCount":40,"thoughtsTokenCount":60,
            "totalTokenCount":1100},"modelVersion":"m"}"#;
        let r = crate::response::decode("gemini", "m", None, body).unwrap();
        let u = r.usage.unwrap();
        assert_eq!(u.output_tokens, Some(100));
        let price =
            llm_core::Price::new(llm_core::Rates::new(usd(1.25), usd(10.0)).cache_read(usd(0.125)))
                .above(200_000, llm_core::Rates::new(usd(2.5), usd(15.0)));
        let expected = (400.0 * 1.25 + 600.0 * 0.125 + 100.0 * 10.0) / 1e6;
        assert_eq!(price.cost(&u), Some(llm_core::Cost::exact(usd(expected))));
    }
}
