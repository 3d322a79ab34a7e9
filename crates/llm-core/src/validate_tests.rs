//! Validation tests: tables, every violation at once, NaN/infinity, and proptest over the ranges.

use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::error::ErrorKind;

fn base() -> ChatRequest {
    ChatRequest::new("m").user("hi")
}

// The tables of four provider crates as they were declared when these rows were written: fixtures for the
// engine (each provider crate tests its own table).
/// OpenAI Chat Completions.
const OPENAI: ParamTable = ParamTable {
    provider: "openai",
    rules: &[
        (Param::Temperature, Range::float(0.0, 2.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: Some(4) }),
        (Param::Seed, Range::ANY_INT),
        (Param::FrequencyPenalty, Range::float(-2.0, 2.0)),
        (Param::PresencePenalty, Range::float(-2.0, 2.0)),
    ],
    requires_max_tokens: false,
};

/// The rules of OpenAI-compatible servers: the OpenAI set plus `top_k` and a repetition penalty, and any
/// number of stop sequences.
const OPENAI_COMPATIBLE_RULES: &[(Param, Range)] = &[
    (Param::Temperature, Range::float(0.0, 2.0)),
    (Param::TopP, Range::float(0.0, 1.0)),
    (Param::TopK, Range::int_min(0)),
    (Param::MaxTokens, Range::int_min(1)),
    (Param::Stop, Range::List { max: None }),
    (Param::Seed, Range::ANY_INT),
    (Param::FrequencyPenalty, Range::float(-2.0, 2.0)),
    (Param::PresencePenalty, Range::float(-2.0, 2.0)),
    (Param::RepeatPenalty, Range::float_min(0.0)),
];

/// The OpenAI set plus `top_k` and a repetition penalty, for OpenAI-compatible servers (OpenRouter,
/// llama.cpp). `provider` names the server in messages.
const fn openai_compatible(provider: &'static str) -> ParamTable {
    ParamTable {
        provider,
        rules: OPENAI_COMPATIBLE_RULES,
        requires_max_tokens: false,
    }
}

/// Anthropic Messages.
const CLAUDE: ParamTable = ParamTable {
    provider: "claude",
    rules: &[
        (Param::Temperature, Range::float(0.0, 1.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::TopK, Range::int_min(1)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: None }),
    ],
    requires_max_tokens: false,
};

/// Ollama `/api/chat` (`max_tokens` is sent as `num_predict`).
const OLLAMA: ParamTable = ParamTable {
    provider: "ollama",
    rules: &[
        (Param::Temperature, Range::float_min(0.0)),
        (Param::TopP, Range::float(0.0, 1.0)),
        (Param::TopK, Range::int_min(1)),
        (Param::MaxTokens, Range::int_min(1)),
        (Param::Stop, Range::List { max: None }),
        (Param::Seed, Range::ANY_INT),
        (Param::RepeatPenalty, Range::float_min(0.0)),
    ],
    requires_max_tokens: false,
};

#[test]
fn valid_requests_pass_every_table() {
    let req = base().temperature(0.5).top_p(0.9).max_tokens(10).stop("x");
    for table in [OPENAI, CLAUDE, OLLAMA, openai_compatible("llamacpp")] {
        assert_eq!(table.violations(&req), vec![], "{}", table.provider);
    }
}

#[test]
fn every_violation_is_reported_at_once() {
    let req = ChatRequest::new(" ")
        .temperature(3.0)
        .top_p(-0.1)
        .top_k(5)
        .max_tokens(0)
        .repeat_penalty(1.1);
    let err = OPENAI.validate(&req).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Validation);
    assert_eq!(err.provider(), Some("openai"));
    let params: Vec<&str> = err.violations().iter().map(|v| v.param.as_str()).collect();
    assert_eq!(
        params,
        [
            "model",
            "messages",
            "temperature",
            "top_p",
            "top_k",
            "max_tokens",
            "repeat_penalty"
        ]
    );
    let temp = &err.violations()[2];
    assert_eq!(temp.allowed, "a finite number in 0..=2");
    assert_eq!(temp.given, "3");
    let top_k = &err.violations()[4];
    assert_eq!(top_k.allowed, "nothing: not supported by openai");
    assert!(
        err.to_string()
            .contains("temperature: expected a finite number in 0..=2, given 3")
    );
}

#[test]
fn table_rows() {
    // (table, request, violated params)
    let rows: Vec<(ParamTable, ChatRequest, Vec<&str>)> = vec![
        (OPENAI, base().temperature(2.0), vec![]),
        (OPENAI, base().temperature(2.01), vec!["temperature"]),
        (
            OPENAI,
            base().frequency_penalty(-2.5),
            vec!["frequency_penalty"],
        ),
        (OPENAI, base().presence_penalty(2.0), vec![]),
        (
            OPENAI,
            base().stop("a").stop("b").stop("c").stop("d").stop("e"),
            vec!["stop"],
        ),
        (OPENAI, base().top_k(3), vec!["top_k"]),
        (CLAUDE, base().temperature(1.5), vec!["temperature"]),
        (CLAUDE, base().top_k(0), vec!["top_k"]),
        (CLAUDE, base().seed(1), vec!["seed"]),
        (
            CLAUDE,
            base().frequency_penalty(0.1),
            vec!["frequency_penalty"],
        ),
        (OLLAMA, base().temperature(5.0), vec![]),
        (OLLAMA, base().temperature(-0.1), vec!["temperature"]),
        (OLLAMA, base().repeat_penalty(-1.0), vec!["repeat_penalty"]),
        (
            OLLAMA,
            base().presence_penalty(0.5),
            vec!["presence_penalty"],
        ),
        (
            openai_compatible("openrouter"),
            base().top_k(40).repeat_penalty(1.1),
            vec![],
        ),
        (OPENAI, base().max_tokens(-3), vec!["max_tokens"]),
    ];
    for (i, (table, req, expected)) in rows.iter().enumerate() {
        let got: Vec<String> = table.violations(req).into_iter().map(|v| v.param).collect();
        assert_eq!(got, *expected, "row {i} ({})", table.provider);
    }
}

#[test]
fn required_max_tokens_is_reported() {
    let table = ParamTable {
        requires_max_tokens: true,
        ..CLAUDE
    };
    let v = table.violations(&base());
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].param, "max_tokens");
    assert!(table.violations(&base().max_tokens(5)).is_empty());
}

#[test]
fn nan_and_infinities_are_rejected() {
    for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        for table in [OPENAI, CLAUDE, OLLAMA, openai_compatible("x")] {
            let v = table.violations(&base().temperature(bad).top_p(bad));
            assert_eq!(v.len(), 2, "{bad} {}", table.provider);
        }
        assert_eq!(OLLAMA.violations(&base().repeat_penalty(bad)).len(), 1);
    }
}

#[test]
fn params_set_from_json() {
    let mut p = Params::default();
    p.set("temperature", &json!(0.3)).unwrap();
    p.set("max_tokens", &json!(12)).unwrap();
    p.set("stop", &json!("END")).unwrap();
    assert_eq!(p.stop, vec!["END".to_owned()]);
    p.set("stop", &json!(["a", "b"])).unwrap();
    assert_eq!(p.stop, vec!["a".to_owned(), "b".to_owned()]);
    assert_eq!(p.temperature, Some(0.3));
    assert_eq!(p.max_tokens, Some(12));
    let e = p.set("max_tokens", &json!("many")).unwrap_err();
    assert_eq!(e.param, "max_tokens");
    assert_eq!(e.allowed, "an integer");
    assert!(p.set("temprature", &json!(1)).is_err());
    assert!(p.set("stop", &json!([1, 2])).is_err());
    assert!(p.set("top_k", &json!(1.5)).is_err());
}

#[test]
fn merged_with_prefers_overrides() {
    let a = Params {
        temperature: Some(0.1),
        max_tokens: Some(5),
        stop: vec!["x".into()],
        ..Params::default()
    };
    let b = Params {
        max_tokens: Some(9),
        ..Params::default()
    };
    let m = a.merged_with(&b);
    assert_eq!(m.temperature, Some(0.1));
    assert_eq!(m.max_tokens, Some(9));
    assert_eq!(m.stop, vec!["x".to_owned()]);
}

proptest! {
    #[test]
    fn openai_temperature_matches_range(t in -10.0f64..10.0) {
        let ok = OPENAI.violations(&base().temperature(t)).is_empty();
        prop_assert_eq!(ok, (0.0..=2.0).contains(&t));
    }

    #[test]
    fn claude_temperature_matches_range(t in -10.0f64..10.0) {
        let ok = CLAUDE.violations(&base().temperature(t)).is_empty();
        prop_assert_eq!(ok, (0.0..=1.0).contains(&t));
    }

    #[test]
    fn top_p_matches_range_everywhere(p in -2.0f64..3.0) {
        for table in [OPENAI, CLAUDE, OLLAMA, openai_compatible("x")] {
            let ok = table.violations(&base().top_p(p)).is_empty();
            prop_assert_eq!(ok, (0.0..=1.0).contains(&p));
        }
    }

    #[test]
    fn penalties_match_range(f in -5.0f64..5.0, p in -5.0f64..5.0) {
        let n = OPENAI.violations(&base().frequency_penalty(f).presence_penalty(p)).len();
        let expected = usize::from(!(-2.0..=2.0).contains(&f)) + usize::from(!(-2.0..=2.0).contains(&p));
        prop_assert_eq!(n, expected);
    }

    #[test]
    fn max_tokens_and_top_k_match_range(m in -100i64..100, k in -100i64..100) {
        prop_assert_eq!(OPENAI.violations(&base().max_tokens(m)).is_empty(), m >= 1);
        prop_assert_eq!(CLAUDE.violations(&base().top_k(k)).is_empty(), k >= 1);
        prop_assert_eq!(OLLAMA.violations(&base().top_k(k)).is_empty(), k >= 1);
    }

    #[test]
    fn violation_count_is_number_of_bad_params(
        t in proptest::option::of(-1.0f64..3.0),
        p in proptest::option::of(-1.0f64..2.0),
        m in proptest::option::of(-5i64..5),
    ) {
        let mut req = base();
        req.params.temperature = t;
        req.params.top_p = p;
        req.params.max_tokens = m;
        let expected = usize::from(t.is_some_and(|t| !(0.0..=2.0).contains(&t)))
            + usize::from(p.is_some_and(|p| !(0.0..=1.0).contains(&p)))
            + usize::from(m.is_some_and(|m| m < 1));
        prop_assert_eq!(OPENAI.violations(&req).len(), expected);
    }
}
