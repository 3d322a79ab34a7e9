//! Parameter validation before anything is sent.
//!
//! Each provider declares a [`ParamTable`]: which parameters it supports and in which range. Validation
//! reports every violation at once (parameter, allowed range, given value), rejects a parameter the provider
//! does not support instead of dropping it, and rejects NaN and infinities.

use std::fmt;

use serde_json::Value;

use crate::error::Error;
use crate::request::{ChatRequest, Params};

/// A typed parameter of [`Params`].
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Param {
    /// `temperature`
    Temperature,
    /// `top_p`
    TopP,
    /// `top_k`
    TopK,
    /// `max_tokens`
    MaxTokens,
    /// `stop`
    Stop,
    /// `seed`
    Seed,
    /// `frequency_penalty`
    FrequencyPenalty,
    /// `presence_penalty`
    PresencePenalty,
    /// `repeat_penalty`
    RepeatPenalty,
}

impl Param {
    /// Every parameter.
    pub const ALL: &'static [Param] = &[
        Param::Temperature,
        Param::TopP,
        Param::TopK,
        Param::MaxTokens,
        Param::Stop,
        Param::Seed,
        Param::FrequencyPenalty,
        Param::PresencePenalty,
        Param::RepeatPenalty,
    ];

    /// The parameter's name as llmux spells it (the [`Params`] field name).
    pub const fn name(self) -> &'static str {
        match self {
            Param::Temperature => "temperature",
            Param::TopP => "top_p",
            Param::TopK => "top_k",
            Param::MaxTokens => "max_tokens",
            Param::Stop => "stop",
            Param::Seed => "seed",
            Param::FrequencyPenalty => "frequency_penalty",
            Param::PresencePenalty => "presence_penalty",
            Param::RepeatPenalty => "repeat_penalty",
        }
    }

    /// The parameter named `name`, if any.
    pub fn from_name(name: &str) -> Option<Param> {
        Param::ALL.iter().copied().find(|p| p.name() == name)
    }

    /// The value set for this parameter in `params`, as a number where it is one; `None` when unset.
    fn value(self, params: &Params) -> Option<Given> {
        let float = |v: Option<f64>| v.map(Given::Float);
        let int = |v: Option<i64>| v.map(Given::Int);
        match self {
            Param::Temperature => float(params.temperature),
            Param::TopP => float(params.top_p),
            Param::TopK => int(params.top_k),
            Param::MaxTokens => int(params.max_tokens),
            Param::Stop => (!params.stop.is_empty()).then_some(Given::List(params.stop.len())),
            Param::Seed => int(params.seed),
            Param::FrequencyPenalty => float(params.frequency_penalty),
            Param::PresencePenalty => float(params.presence_penalty),
            Param::RepeatPenalty => float(params.repeat_penalty),
        }
    }
}

impl fmt::Display for Param {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[derive(Debug, Clone, Copy)]
enum Given {
    Float(f64),
    Int(i64),
    List(usize),
}

/// The values a supported parameter may take.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Range {
    /// A finite number within the inclusive bounds (an unbounded side is `None`).
    Float {
        /// Smallest allowed value.
        min: Option<f64>,
        /// Largest allowed value.
        max: Option<f64>,
    },
    /// An integer within the inclusive bounds.
    Int {
        /// Smallest allowed value.
        min: Option<i64>,
        /// Largest allowed value.
        max: Option<i64>,
    },
    /// A list of at most `max` items (`None`: any length).
    List {
        /// Most items allowed.
        max: Option<usize>,
    },
}

impl Range {
    /// A float range with both bounds.
    pub const fn float(min: f64, max: f64) -> Range {
        Range::Float {
            min: Some(min),
            max: Some(max),
        }
    }

    /// A float range with only a lower bound.
    pub const fn float_min(min: f64) -> Range {
        Range::Float {
            min: Some(min),
            max: None,
        }
    }

    /// An integer range with only a lower bound.
    pub const fn int_min(min: i64) -> Range {
        Range::Int {
            min: Some(min),
            max: None,
        }
    }

    /// Any integer.
    pub const ANY_INT: Range = Range::Int {
        min: None,
        max: None,
    };

    fn admits(&self, given: Given) -> bool {
        match (*self, given) {
            (Range::Float { min, max }, Given::Float(v)) => {
                v.is_finite() && min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
            }
            (Range::Int { min, max }, Given::Int(v)) => {
                min.is_none_or(|m| v >= m) && max.is_none_or(|m| v <= m)
            }
            (Range::List { max }, Given::List(n)) => max.is_none_or(|m| n <= m),
            _ => false,
        }
    }
}

impl fmt::Display for Range {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn bounds<T: fmt::Display>(
            f: &mut fmt::Formatter<'_>,
            what: &str,
            min: Option<T>,
            max: Option<T>,
        ) -> fmt::Result {
            match (min, max) {
                (Some(a), Some(b)) => write!(f, "{what} in {a}..={b}"),
                (Some(a), None) => write!(f, "{what} >= {a}"),
                (None, Some(b)) => write!(f, "{what} <= {b}"),
                (None, None) => write!(f, "any {what}"),
            }
        }
        match *self {
            Range::Float { min, max } => bounds(f, "a finite number", min, max),
            Range::Int { min, max } => bounds(f, "an integer", min, max),
            Range::List { max: Some(m) } => write!(f, "at most {m} items"),
            Range::List { max: None } => write!(f, "a list"),
        }
    }
}

/// One problem with one parameter (or required field).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The parameter or field, e.g. `temperature` or `messages`.
    pub param: String,
    /// What is allowed, e.g. `a finite number in 0..=2` or `not supported by claude`.
    pub allowed: String,
    /// What was given, e.g. `3.5`.
    pub given: String,
}

impl Violation {
    /// A violation of `param`: `allowed` describes what is accepted, `given` what was given.
    pub fn new(
        param: impl Into<String>,
        allowed: impl Into<String>,
        given: impl Into<String>,
    ) -> Self {
        Violation {
            param: param.into(),
            allowed: allowed.into(),
            given: given.into(),
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: expected {}, given {}",
            self.param, self.allowed, self.given
        )
    }
}

/// A provider's parameter rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ParamTable {
    /// The provider the table belongs to (used in messages).
    pub provider: &'static str,
    /// The supported parameters and their ranges; a parameter not listed is unsupported.
    pub rules: &'static [(Param, Range)],
    /// Whether `max_tokens` must be set by the caller. (Claude requires it on the wire, but its crate fills a
    /// documented default, so its table does not require it from the caller.)
    pub requires_max_tokens: bool,
}

impl ParamTable {
    /// The range of `param`, or `None` when the provider does not support it.
    pub fn range(&self, param: Param) -> Option<Range> {
        self.rules
            .iter()
            .find_map(|(p, r)| (*p == param).then_some(*r))
    }

    /// Every violation in `request`: an empty model or conversation, unsupported parameters, values out of
    /// range (NaN and infinities included), a missing required `max_tokens`.
    pub fn violations(&self, request: &ChatRequest) -> Vec<Violation> {
        let mut out = Vec::new();
        if request.model.trim().is_empty() {
            out.push(Violation::new("model", "a model name", "an empty string"));
        }
        if request.messages.is_empty() {
            out.push(Violation::new("messages", "at least one message", "none"));
        }
        for &param in Param::ALL {
            let Some(given) = param.value(&request.params) else {
                if param == Param::MaxTokens && self.requires_max_tokens {
                    out.push(Violation::new(
                        param.name(),
                        format!("a value (required by {})", self.provider),
                        "none",
                    ));
                }
                continue;
            };
            let shown = match given {
                Given::Float(v) => format!("{v}"),
                Given::Int(v) => format!("{v}"),
                Given::List(n) => format!("{n} items"),
            };
            match self.range(param) {
                None => out.push(Violation::new(
                    param.name(),
                    format!("nothing: not supported by {}", self.provider),
                    shown,
                )),
                Some(range) if !range.admits(given) => {
                    out.push(Violation::new(param.name(), range.to_string(), shown));
                }
                Some(_) => {}
            }
        }
        out
    }

    /// `Ok` when `request` has no violation, else a `validation` error listing them all.
    pub fn validate(&self, request: &ChatRequest) -> Result<(), Error> {
        let violations = self.violations(request);
        if violations.is_empty() {
            Ok(())
        } else {
            Err(Error::validation(self.provider, violations))
        }
    }
}

/// The violations of a provider that takes no tools yet: any tool, tool choice or parallel-calls setting,
/// and any tool message, is rejected (never dropped), naming `provider`.
pub fn no_tools(provider: &str, request: &ChatRequest) -> Vec<Violation> {
    let mut out = Vec::new();
    let not_yet = format!("no tools (tool calling is not implemented for {provider} yet)");
    if !request.tools.is_empty() {
        out.push(Violation::new(
            "tools",
            not_yet.clone(),
            format!("{} tools", request.tools.len()),
        ));
    }
    if request.tool_choice.is_some() {
        out.push(Violation::new(
            "tool_choice",
            not_yet.clone(),
            "a tool choice",
        ));
    }
    if request.parallel_tool_calls.is_some() {
        out.push(Violation::new(
            "parallel_tool_calls",
            not_yet.clone(),
            "a setting",
        ));
    }
    for (i, message) in request.messages.iter().enumerate() {
        if message.role == crate::Role::Tool {
            out.push(Violation::new(
                format!("messages[{i}].role"),
                not_yet.clone(),
                "a tool message",
            ));
        }
    }
    out
}

impl Params {
    /// Sets the parameter `name` from a JSON value (as a CLI `--param key=value` or a config table gives it).
    /// An unknown name or a value of the wrong type is a [`Violation`]; ranges are checked later by a
    /// provider's [`ParamTable`].
    pub fn set(&mut self, name: &str, value: &Value) -> Result<(), Violation> {
        let Some(param) = Param::from_name(name) else {
            let known: Vec<&str> = Param::ALL.iter().map(|p| p.name()).collect();
            return Err(Violation::new(
                name,
                format!("a known parameter ({})", known.join(", ")),
                "an unknown parameter",
            ));
        };
        let wrong = |what: &str| Violation::new(name, what, value.to_string());
        let float = || value.as_f64().ok_or_else(|| wrong("a number"));
        let int = || value.as_i64().ok_or_else(|| wrong("an integer"));
        match param {
            Param::Temperature => self.temperature = Some(float()?),
            Param::TopP => self.top_p = Some(float()?),
            Param::TopK => self.top_k = Some(int()?),
            Param::MaxTokens => self.max_tokens = Some(int()?),
            Param::Seed => self.seed = Some(int()?),
            Param::FrequencyPenalty => self.frequency_penalty = Some(float()?),
            Param::PresencePenalty => self.presence_penalty = Some(float()?),
            Param::RepeatPenalty => self.repeat_penalty = Some(float()?),
            Param::Stop => {
                self.stop = match value {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(items) => items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| wrong("a string or a list of strings"))?,
                    _ => return Err(wrong("a string or a list of strings")),
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
