//! Tests of configuration resolution: the default chain, the local default's paths, chain files.

use std::path::Path;
use std::time::Duration;

use llmux::ErrorKind;

use llmux_e2e::layout::PeerLayout;

use super::*;

fn names(spec: &ChainSpec) -> Vec<&'static str> {
    spec.entries.iter().map(|e| e.backend.name()).collect()
}

/// A cache directory holding a (fake) llama-server and model, removed on drop.
struct FakeCache(PathBuf);

impl FakeCache {
    fn new(tag: &str) -> FakeCache {
        let root = std::env::temp_dir().join(format!("llmux-spec-{tag}-{}", std::process::id()));
        let peers = PeerLayout::new(root.join("peers"));
        for file in [peers.llama_server_bin(), peers.model()] {
            std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
            std::fs::write(&file, b"x").expect("write");
        }
        FakeCache(root)
    }
}

impl Drop for FakeCache {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn the_local_default_is_where_xtask_peers_puts_it() {
    let env = Env::from_pairs([("LLMUX_CACHE_DIR", "/c"), ("HOME", "/h")]);
    let local = managed_local(&env);
    let layout = PeerLayout::new("/c/peers");
    assert_eq!(local.binary.value, layout.llama_server_bin());
    assert_eq!(local.model_file.value, layout.model());
    assert_eq!(local.binary.origin, Origin::Default);

    let env = Env::from_pairs([("XDG_CACHE_HOME", "/x"), ("HOME", "/h")]);
    assert_eq!(
        peers_dir(&env).as_deref(),
        Some(Path::new("/x/llmux/peers"))
    );
    let env = Env::from_pairs([("HOME", "/h")]);
    assert_eq!(
        peers_dir(&env).as_deref(),
        Some(Path::new("/h/.cache/llmux/peers"))
    );
    assert_eq!(peers_dir(&Env::default()), None);

    let env = Env::from_pairs([
        (LLAMA_SERVER_BIN_VAR, "/bin/ls"),
        (LOCAL_MODEL_VAR, "/m.gguf"),
    ]);
    let local = managed_local(&env);
    assert_eq!(local.binary.value, Path::new("/bin/ls"));
    assert_eq!(
        local.binary.origin,
        Origin::Env(LLAMA_SERVER_BIN_VAR.into())
    );
    assert_eq!(
        local.missing(),
        [format!("no model at /m.gguf (env {LOCAL_MODEL_VAR})")]
    );
}

#[test]
fn the_default_chain_is_the_configured_providers_then_the_local_default() {
    let cache = FakeCache::new("default");
    let dir = cache.0.to_str().expect("utf-8 temp dir");
    let env = Env::from_pairs([
        ("LLMUX_CACHE_DIR", dir),
        ("OPENROUTER_API_KEY", "k1"),
        ("OPENAI_API_KEY", "k2"),
        ("LLAMA_SERVER_URL", "http://127.0.0.1:8081"),
    ]);
    let spec = default_chain(&env).expect("a chain");
    assert_eq!(
        names(&spec),
        ["openai", "openrouter", "llamacpp", "llamacpp"]
    );
    assert!(matches!(spec.entries[3].backend, Backend::Managed { .. }));
    assert_eq!(spec.entries[3].model.value, LOCAL_MODEL_NAME);
    assert_eq!(
        spec.entries[2].base_url,
        Setting::new(
            Some("http://127.0.0.1:8081".to_owned()),
            Origin::Env("LLAMA_SERVER_URL".into())
        )
    );

    let only_local = default_chain(&Env::from_pairs([("LLMUX_CACHE_DIR", dir)])).expect("a chain");
    assert_eq!(names(&only_local), ["llamacpp"]);
    // The local entry bounds a small model's answer by default; remote entries send nothing extra.
    let local = &only_local.entries[0].defaults;
    assert_eq!(local.max_tokens, Some(256));
    assert!(local.repeat_penalty.is_some_and(|p| p > 1.0));
    assert_eq!(spec.entries[0].defaults, Params::default());

    let err = default_chain(&Env::from_pairs([("LLMUX_CACHE_DIR", "/nonexistent")])).unwrap_err();
    assert!(
        err.0
            .contains("no llama-server at /nonexistent/peers/bin/llama-server"),
        "{err}"
    );

    // Without the local default, the configured providers still make a chain.
    let env = Env::from_pairs([
        ("LLMUX_CACHE_DIR", "/nonexistent"),
        ("OLLAMA_HOST", ":11500"),
    ]);
    let spec = default_chain(&env).expect("a chain");
    assert_eq!(names(&spec), ["ollama"]);
    assert_eq!(
        spec.entries[0].base_url.value.as_deref(),
        Some("http://127.0.0.1:11500")
    );
}

#[test]
fn a_chain_file_keeps_order_keys_and_params() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-1"), ("MINE", "sk-2")]);
    let text = r#"
        [[entry]]
        provider = "claude"
        model = "c"
        api_key_env = "MINE"

        [[entry]]
        provider = "openai"
        model = "o"
        base_url = "http://h/v1"
        [entry.params]
        max_tokens = 12
        stop = ["a", "b"]
        temperature = 0.5

        [[entry]]
        provider = "openrouter"
        model = "r"
    "#;
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).expect("valid");
    assert_eq!(names(&spec), ["claude", "openai", "openrouter"]);
    assert_eq!(
        spec.entries[0].key,
        Key::Set {
            var: "MINE".into(),
            key: ApiKey::new("sk-2")
        }
    );
    assert_eq!(
        spec.entries[2].key,
        Key::Missing {
            var: "OPENROUTER_API_KEY".into()
        }
    );
    let params = &spec.entries[1].params;
    assert_eq!(params.max_tokens, Some(12));
    assert_eq!(params.stop, ["a", "b"]);
    assert_eq!(params.temperature, Some(0.5));
    assert_eq!(
        spec.entries[1].base_url.origin,
        Origin::File("c.toml".into())
    );
}

#[test]
fn chain_file_mistakes_are_configuration_errors_that_say_what() {
    let env = Env::default();
    let cases = [
        ("", "missing field `entry`"),
        ("entry = []", "no [[entry]]"),
        (
            "[[entry]]\nprovider = \"openai\"\n",
            "entry 0: needs `provider` and `model`, or [[entry.deployment]] tables",
        ),
        (
            "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\nstrategy = \"weighted\"\n",
            "entry 0: `strategy` needs [[entry.deployment]] tables",
        ),
        (
            "[[entry]]\nstrategy = \"fastest\"\n[[entry.deployment]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "entry 0: unknown strategy `fastest`",
        ),
        (
            "[[entry]]\nprovider = \"openai\"\n[[entry.deployment]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "go in its [[entry.deployment]] tables",
        ),
        (
            "[state]\nredis = \"http://x\"\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "[state] redis must be a redis:// URL",
        ),
        (
            "[state]\nurl = \"redis://x\"\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "unknown field `url`",
        ),
        (
            "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\nretries = 3\n",
            "unknown field `retries`",
        ),
        (
            "[[entry]]\nprovider = \"x\"\nmodel = \"m\"\n",
            "entry 0: unknown provider `x`",
        ),
        (
            "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n[entry.params]\ntop_k = \"many\"\n",
            "entry 0: params.top_k",
        ),
        ("[[chains]]\n", "unknown field `chains`"),
        (
            "[gateway]\nkeys = [\" \"]\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "[gateway] keys must not be empty strings",
        ),
        (
            "[gateway]\nkey = \"k\"\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "unknown field `key`",
        ),
    ];
    for (text, expected) in cases {
        let err = parse_chain_file(text, Path::new("c.toml"), &env).unwrap_err();
        assert!(err.0.contains(expected), "{text:?}: {err}");
        assert!(err.0.starts_with("invalid chain file c.toml"), "{err}");
    }
}

#[test]
fn the_sdk_base_url_variables_move_openai_and_claude() {
    let cache = FakeCache::new("base-urls");
    let dir = cache.0.to_str().expect("utf-8 temp dir");
    let env = Env::from_pairs([
        ("LLMUX_CACHE_DIR", dir),
        ("OPENAI_API_KEY", "k1"),
        ("OPENAI_BASE_URL", "http://127.0.0.1:4000/v1"),
        ("ANTHROPIC_API_KEY", "k2"),
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:4001"),
    ]);
    let spec = default_chain(&env).expect("a chain");
    assert_eq!(names(&spec), ["openai", "claude", "llamacpp"]);
    assert_eq!(
        spec.entries[0].base_url,
        Setting::new(
            Some("http://127.0.0.1:4000/v1".to_owned()),
            Origin::Env("OPENAI_BASE_URL".into())
        )
    );
    assert_eq!(
        spec.entries[1].base_url.value.as_deref(),
        Some("http://127.0.0.1:4001")
    );
    // Without the variables the crates' defaults stand, and the providers still join.
    let env = Env::from_pairs([("LLMUX_CACHE_DIR", dir), ("OPENAI_API_KEY", "k1")]);
    let spec = default_chain(&env).expect("a chain");
    assert_eq!(spec.entries[0].base_url.value, None);
}

#[test]
fn entry_extra_and_reasoning_tables_belong_to_their_entry() {
    let env = Env::from_pairs([("OPENROUTER_API_KEY", "k"), ("ANTHROPIC_API_KEY", "k")]);
    let text = r#"
[[entry]]
provider = "openrouter"
model = "a/b"
[entry.extra]
transforms = ["middle-out"]
[entry.reasoning]
effort = "high"

[[entry]]
provider = "claude"
model = "claude-sonnet-4-5"
[entry.reasoning]
budget = 2048
"#;
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).unwrap();
    assert_eq!(
        spec.entries[0].extra["transforms"],
        serde_json::json!(["middle-out"])
    );
    assert_eq!(
        spec.entries[0].reasoning,
        Some(llmux::Reasoning::Effort(llmux::Effort::High))
    );
    assert!(spec.entries[1].extra.is_empty());
    assert_eq!(
        spec.entries[1].reasoning,
        Some(llmux::Reasoning::Budget(2048))
    );
    for (bad, says) in [
        (
            "[entry.reasoning]\neffort = \"extreme\"",
            "reasoning.effort",
        ),
        ("[entry.reasoning]\neffort = \"low\"\nbudget = 5", "either"),
        ("[entry.reasoning]\nlevel = 1", "unknown field"),
    ] {
        let text = format!("[[entry]]\nprovider = \"claude\"\nmodel = \"m\"\n{bad}\n");
        let err = parse_chain_file(&text, Path::new("c.toml"), &env).unwrap_err();
        assert!(err.0.contains(says), "{bad}: {}", err.0);
    }
}

#[test]
fn a_chain_file_shares_state_sets_budgets_and_groups_deployments() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a"), ("KEY_B", "sk-b")]);
    let text = r#"
[state]
redis = "redis://:hunter2@127.0.0.1:6379/0"
key = "prod"

[[entry]]
provider = "openai"
model = "gpt-4o-mini"
rpm = 60
tpm = 10000

[[entry]]
strategy = "least_in_flight"
rpm = 30
id = "claude-group"

[[entry.deployment]]
provider = "openai"
model = "gpt-4o"
base_url = "https://eu.example/v1"
weight = 2

[[entry.deployment]]
provider = "openai"
model = "gpt-4o"
api_key_env = "KEY_B"
rpm = 5
id = "second-key"
"#;
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).expect("valid");
    let state = spec.state.as_ref().expect("[state]");
    assert_eq!(state.redis.expose(), "redis://:hunter2@127.0.0.1:6379/0");
    assert_eq!(state.key.as_deref(), Some("prod"));
    assert!(
        !format!("{spec:?}").contains("hunter2"),
        "the URL's password is never printed"
    );
    assert_eq!(spec.entries.len(), 2);
    let plain = &spec.entries[0].fleet;
    assert_eq!((plain.rpm, plain.tpm), (Some(60), Some(10000)));
    assert!(plain.deployments.is_empty());
    let group = &spec.entries[1];
    assert_eq!(group.model.value, "gpt-4o");
    assert_eq!(group.fleet.strategy, Strategy::LeastInFlight);
    assert_eq!(group.fleet.id.as_deref(), Some("claude-group"));
    assert_eq!(
        group.fleet.rpm,
        Some(30),
        "the entry's rpm is each deployment's default"
    );
    assert_eq!(group.fleet.weight, Some(2));
    assert_eq!(group.fleet.deployments.len(), 1);
    let second = &group.fleet.deployments[0];
    assert_eq!(second.fleet.rpm, Some(5));
    assert_eq!(second.fleet.id.as_deref(), Some("second-key"));
    assert!(matches!(&second.key, Key::Set { var, .. } if var == "KEY_B"));
}

#[test]
fn a_chain_file_names_gateway_keys_that_never_print() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a")]);
    let text = "[gateway]\nkeys = [\"gw-secret-1\", \" gw-secret-2 \"]\n\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n";
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).expect("valid");
    assert_eq!(spec.gateway_keys.expose(), ["gw-secret-1", "gw-secret-2"]);
    let shown = format!("{spec:?}");
    assert!(!shown.contains("gw-secret"), "{shown}");
    assert!(shown.contains("GatewayKeys(2 keys"), "{shown}");
}

#[test]
fn a_chain_file_prices_models_and_sets_dollar_budgets() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a")]);
    let text = r#"
[[price]]
provider = "openai"
model = "gpt-4o-mini"
input = 0.15
output = 0.60
cache_read = 0.075

[[price]]
model = "anywhere"
input = 1
output = 2

[[entry]]
provider = "openai"
model = "gpt-4o-mini"
usd_per_minute = 0.5
usd_per_day = 20

[[entry]]
strategy = "in_order"
usd_per_hour = 3

[[entry.deployment]]
provider = "openai"
model = "anywhere"

[[entry.deployment]]
provider = "openai"
model = "anywhere"
usd_per_hour = 1
"#;
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).expect("valid");
    let dollars = |d: f64| Some(Usd::from_dollars(d).unwrap());
    assert_eq!(
        spec.entries[0].fleet.usd,
        [dollars(0.5), None, dollars(20.0)]
    );
    assert_eq!(spec.entries[1].fleet.usd, [None, dollars(3.0), None]);
    assert_eq!(
        spec.entries[1].fleet.deployments[0].fleet.usd,
        [None, dollars(1.0), None],
        "a deployment's own budget wins"
    );
    let mini = spec.prices.price("openai", "gpt-4o-mini").expect("a row");
    assert_eq!(mini.rates.cache_read, Usd::from_dollars(0.075).unwrap());
    assert!(spec.prices.price("claude", "anywhere").is_some());

    // A --prices file's rows go under the chain file's.
    let dir = std::env::temp_dir().join(format!("llmux-prices-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("prices.toml");
    std::fs::write(
        &file,
        "[[price]]\nprovider = \"openai\"\nmodel = \"gpt-4o-mini\"\ninput = 9\noutput = 9\n\
         [[price]]\nprovider = \"openai\"\nmodel = \"other\"\ninput = 3\noutput = 4\n",
    )
    .unwrap();
    let merged = spec.with_prices_file(Some(&file)).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        merged
            .prices
            .price("openai", "gpt-4o-mini")
            .unwrap()
            .rates
            .input,
        Usd::from_dollars(0.15).unwrap(),
        "the chain file's row wins"
    );
    assert!(merged.prices.price("openai", "other").is_some());
}

#[test]
fn price_and_budget_mistakes_say_what() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a")]);
    let err = |text: &str| {
        parse_chain_file(text, Path::new("c.toml"), &env)
            .expect_err("invalid")
            .0
    };
    let entry = "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n";
    assert!(
        err(&format!(
            "{entry}[[price]]\nmodel = \"m\"\ninput = 1\noutput = 1\nextra = 2\n"
        ))
        .contains("extra")
    );
    assert!(
        err(&format!(
            "{entry}[[price]]\nmodel = \"m\"\ninput = -1\noutput = 1\n"
        ))
        .contains("input")
    );
    assert!(err(&format!("{entry}usd_per_day = -3\n")).contains("usd_per_day"));
    assert!(
        err("[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\nusd_per_week = 3\n")
            .contains("usd_per_week")
    );
}

#[test]
fn the_chain_table_reaches_every_policy() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a")]);
    let text = r#"
[chain]
max_retries = 4
backoff = "200ms"
max_backoff = "2s"
retry_budget = 0.5
deadline = "30s"
hedge_after = "800ms"
context_length = "next"
breaker = { failures = 3, cooldown = "10s", max_cooldown = "2m", failure_ratio = 0.25, min_requests = 20, window = "30s" }

[[entry]]
provider = "openai"
model = "m"
"#;
    let spec = parse_chain_file(text, Path::new("c.toml"), &env).expect("valid");
    let p = &spec.policy;
    assert_eq!(p.retry.max_attempts, 5);
    assert_eq!(p.retry.initial_backoff, Duration::from_millis(200));
    assert_eq!(p.retry.max_backoff, Duration::from_secs(2));
    assert_eq!(p.budget.ratio, 0.5);
    assert_eq!(p.deadline, Some(Duration::from_secs(30)));
    assert_eq!(p.hedge_after, Some(Duration::from_millis(800)));
    assert!(p.fall_through.contains(ErrorKind::ContextLength));
    assert!(
        p.fall_through.contains(ErrorKind::Server),
        "the defaults stay"
    );
    let b = &p.breaker;
    assert_eq!(
        (
            b.consecutive_failures,
            b.cooldown,
            b.max_cooldown,
            b.failure_ratio,
            b.min_requests,
            b.window
        ),
        (
            3,
            Duration::from_secs(10),
            Duration::from_secs(120),
            0.25,
            20,
            Duration::from_secs(30)
        )
    );
    // Without [chain]: the library's defaults.
    let plain = parse_chain_file(
        "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
        Path::new("c.toml"),
        &env,
    )
    .expect("valid");
    assert_eq!(plain.policy, Policy::default());
    // Hedging off and the breaker disabled.
    let off = parse_chain_file(
        "[chain.breaker]\nenabled = false\n\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
        Path::new("c.toml"),
        &env,
    )
    .expect("valid");
    assert!(!off.policy.breaker.enabled);
}

#[test]
fn chain_table_mistakes_name_the_key() {
    let env = Env::from_pairs([("OPENAI_API_KEY", "sk-a")]);
    let entry = "[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n";
    let err = |chain: &str| {
        parse_chain_file(&format!("{chain}\n{entry}"), Path::new("c.toml"), &env)
            .expect_err("invalid")
            .0
    };
    assert!(err("[chain]\nhedge_afterr = \"1s\"\n").contains("hedge_afterr"));
    assert!(err("[chain]\ndeadline = \"soon\"\n").contains("deadline"));
    assert!(err("[chain]\ndeadline = \"0s\"\n").contains("above 0"));
    assert!(err("[chain]\ncontext_length = \"maybe\"\n").contains("context_length"));
    assert!(err("[chain]\nretry_budget = -1.0\n").contains("retry_budget"));
    assert!(err("[chain.breaker]\nfailure_ratio = 2.0\n").contains("failure_ratio"));
    assert!(err("[chain.breaker]\nfailurez = 2\n").contains("failurez"));
}

#[test]
fn a_toml_error_says_where_without_quoting_the_file() {
    let env = Env::default();
    for (text, place) in [
        // A syntax error on the line holding the keys.
        (
            "[gateway]\nkeys = [\"gw-secret-1\", \"gw-secret-2\"\n\n[[entry]]\nprovider = \"openai\"\n",
            "line 4",
        ),
        // A mistyped value: serde's message would quote it.
        (
            "[gateway]\nkeys = \"gw-secret-1\"\n\n[[entry]]\nprovider = \"openai\"\nmodel = \"m\"\n",
            "line 2",
        ),
    ] {
        let err = parse_chain_file(text, Path::new("c.toml"), &env).unwrap_err();
        assert!(!err.0.contains("gw-secret"), "{}", err.0);
        assert!(err.0.contains(place), "{}", err.0);
        assert!(
            err.0.starts_with("invalid chain file c.toml: "),
            "{}",
            err.0
        );
    }
}
