//! The prices of OpenAI's models: `prices.toml` beside this crate's manifest, a `[[price]]` table per model
//! with the page it was read from and the date it was read.

use std::sync::LazyLock;

use llm_core::PriceTable;

/// The provider name the shipped rows are written for.
pub(crate) const PROVIDER: &str = "openai";

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

    /// OpenAI's `prompt_tokens` include the cached ones (`prompt_tokens_details.cached_tokens`), and
    /// `completion_tokens` include the reasoning ones: uncached input is their difference, reasoning is
    /// priced as output once.
    #[test]
    fn openai_usage_is_priced_by_its_counting_rule() {
        let body = br#"{"id":"c","object":"chat.completion","model":"m","choices":[{"index":0,
            "message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
            "usage":{"prompt_tokens":2000,"completion_tokens":300,"total_tokens":2300,
            "prompt_tokens_details":{"cached_tokens":1500},
            "completion_tokens_details":{"reasoning_tokens":200}}}"#;
        let r = crate::decode_response(body, &crate::ResponseMeta::new("openai", "m")).unwrap();
        let u = r.usage.unwrap();
        let price =
            llm_core::Price::new(llm_core::Rates::new(usd(2.0), usd(8.0)).cache_read(usd(0.5)));
        // 500 uncached × 2 + 1,500 cached × 0.5 + 300 output × 8, per million tokens
        let expected = (500.0 * 2.0 + 1_500.0 * 0.5 + 300.0 * 8.0) / 1e6;
        assert_eq!(price.cost(&u), Some(llm_core::Cost::exact(usd(expected))));
    }
}
