//! The Redis store's two background tasks: the subscriber (the chain's channel into the view, the state
//! read at start and after every outage) and the reporter (outcomes into the failure, success, token and
//! hold scripts). Both end when the store is dropped.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::{Bound, Shared, clamped, ms};
use crate::fleet::Report;

/// How long a background request to Redis may take before Redis counts as down.
const BACKGROUND_WAIT: Duration = Duration::from_millis(500);
/// How soon the subscriber tries again after Redis went away (doubling up to [`MAX_RETRY`]).
const FIRST_RETRY: Duration = Duration::from_millis(50);
const MAX_RETRY: Duration = Duration::from_secs(1);
/// How often a live subscriber checks whether Redis, marked down by a slow command, answers again.
const RECHECK: Duration = Duration::from_millis(250);
/// How often successes counted in process go to the fleet's failure-ratio window.
const SUCCESSES_EVERY: Duration = Duration::from_millis(250);

pub(super) fn spawn(shared: Arc<Shared>, reports: mpsc::Receiver<(usize, Report)>) {
    let runtime = shared.runtime.clone();
    runtime.spawn(subscriber(Arc::downgrade(&shared)));
    runtime.spawn(reporter(Arc::downgrade(&shared), reports));
}

/// Subscribes to the chain's channel, reads the fleet's state, then applies every message to the view;
/// when the connection ends, marks Redis down and starts over with a backoff.
async fn subscriber(shared: Weak<Shared>) {
    let mut retry = FIRST_RETRY;
    loop {
        let Some(s) = shared.upgrade() else { return };
        let connected = tokio::time::timeout(BACKGROUND_WAIT, s.client.get_async_pubsub()).await;
        let mut pubsub = match connected {
            Ok(Ok(p)) => p,
            Ok(Err(e)) => {
                s.mark_down(super::error_kind(&e));
                s.synced.send_replace(true);
                drop(s);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
            Err(_) => {
                s.mark_down("timeout");
                s.synced.send_replace(true);
                drop(s);
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(MAX_RETRY);
                continue;
            }
        };
        let Some(bound) = s.bound() else { return };
        // Subscribe first, then read: no change between the two is lost.
        let subscribed =
            tokio::time::timeout(BACKGROUND_WAIT, pubsub.subscribe(&bound.channel)).await;
        if !matches!(subscribed, Ok(Ok(()))) || !sync(&s, bound).await {
            s.mark_down("subscribe failed");
            s.synced.send_replace(true);
            drop(s);
            tokio::time::sleep(retry).await;
            retry = (retry * 2).min(MAX_RETRY);
            continue;
        }
        retry = FIRST_RETRY;
        s.mark_up();
        s.synced.send_replace(true);
        drop(s);
        let mut messages = pubsub.into_on_message();
        let mut recheck = tokio::time::interval(RECHECK);
        loop {
            tokio::select! {
                msg = messages.next() => {
                    let Some(msg) = msg else { break };
                    let Some(s) = shared.upgrade() else { return };
                    let Some(bound) = s.bound() else { return };
                    if let Ok(text) = msg.get_payload::<String>() {
                        apply(bound, &text);
                    }
                }
                _ = recheck.tick() => {
                    // A command that was too slow marked Redis down while this subscription lived on:
                    // read the state anew and decide with Redis again once it answers.
                    let Some(s) = shared.upgrade() else { return };
                    let Some(bound) = s.bound() else { return };
                    if !s.is_up() && sync(&s, bound).await {
                        s.mark_up();
                    }
                }
            }
        }
        let Some(s) = shared.upgrade() else { return };
        s.mark_down("connection lost");
    }
}

/// Reads every target's breaker into the view; false when Redis did not answer.
async fn sync(shared: &Shared, bound: &Bound) -> bool {
    let keys: Vec<&str> = bound.keys.iter().map(|k| k.breaker.as_str()).collect();
    // Each breaker this process opened on failures seen while Redis was away, offered to the fleet.
    let mut args = vec![bound.channel.clone()];
    for (t, k) in bound.keys.iter().enumerate() {
        let ours = k
            .unsynced
            .load(Ordering::Relaxed)
            .then(|| bound.view.open_for(t))
            .flatten();
        args.push(ours.map_or("-1".to_owned(), |d| ms(d.max(Duration::from_millis(1)))));
        args.push(k.id.clone());
    }
    // One pair per target, whatever its fields hold (the script reads them with defaults).
    let Some(pairs) = shared
        .ask::<Vec<(i64, i64)>>(&shared.scripts.sync, &keys, &args, BACKGROUND_WAIT)
        .await
    else {
        return false;
    };
    if pairs.len() != bound.keys.len() {
        return false;
    }
    for k in &bound.keys {
        k.unsynced.store(false, Ordering::Relaxed);
    }
    let max = bound.view.policy().max_cooldown;
    for (t, (failures, left)) in pairs.into_iter().enumerate() {
        if let Some(k) = bound.keys.get(t) {
            k.dirty.store(failures > 0, Ordering::Relaxed);
        }
        // A breaker closed in the fleet leaves one this process opened alone (while Redis was away) to its
        // own cooldown; its probe then asks the fleet.
        if left >= 0 {
            bound.view.opened(t, clamped(left, max));
        }
    }
    true
}

/// One message of the chain's channel: `o MS ID` opened for MS, `c ID` closed, `f N ID` N consecutive
/// failures. Anyone who can publish to Redis can write here: a number that does not parse drops the
/// message, and an opening is never longer than the policy's longest cooldown.
fn apply(bound: &Bound, text: &str) {
    let mut parts = text.splitn(3, ' ');
    let (Some(kind), Some(second)) = (parts.next(), parts.next()) else {
        return;
    };
    let (id, number) = match kind {
        "c" => (second, 0),
        _ => match (parts.next(), second.parse::<i64>()) {
            (Some(id), Ok(n)) => (id, n),
            _ => return,
        },
    };
    let Some(t) = bound.keys.iter().position(|k| k.id == id) else {
        return;
    };
    match kind {
        "o" => bound
            .view
            .opened(t, clamped(number, bound.view.policy().max_cooldown)),
        "c" => {
            bound.keys[t].dirty.store(false, Ordering::Relaxed);
            bound.view.closed(t);
        }
        "f" => bound.keys[t].dirty.store(true, Ordering::Relaxed),
        _ => {}
    }
}

/// Runs each reported outcome's script in order, applying what the fleet answers to the view; every
/// [`SUCCESSES_EVERY`], sends the successes counted in process.
async fn reporter(shared: Weak<Shared>, mut reports: mpsc::Receiver<(usize, Report)>) {
    let mut tick = tokio::time::interval(SUCCESSES_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            r = reports.recv() => {
                let Some((t, report)) = r else { return };
                let Some(s) = shared.upgrade() else { return };
                handle(&s, t, report).await;
                s.handled.send_modify(|n| *n += 1);
            }
            _ = tick.tick() => {
                let Some(s) = shared.upgrade() else { return };
                send_counted_successes(&s).await;
            }
        }
    }
}

/// Sends the successes each target counted since its last report into the fleet's window, and only
/// there: they came before whatever failures the fleet counted since (a target the fleet counts failures
/// for reports each success instead of counting it), so they neither reset the fleet's consecutive count
/// nor close its breaker, and they leave `dirty` for the next reported success.
pub(super) async fn send_counted_successes(s: &Shared) {
    if !s.is_up() {
        return;
    }
    let Some(bound) = s.bound() else { return };
    let policy = bound.view.policy();
    if !super::ratio_window(policy) {
        return;
    }
    let window_s = policy.window.as_secs().max(1).to_string();
    for keys in &bound.keys {
        let counted = keys.pending_ok.swap(0, Ordering::Relaxed);
        if counted == 0 {
            continue;
        }
        let args = [
            bound.channel.clone(),
            keys.id.clone(),
            "0".to_owned(),
            counted.to_string(),
            window_s.clone(),
            "1".to_owned(),
        ];
        let _: Option<i64> = s
            .ask(
                &s.scripts.success,
                &[&keys.breaker, &keys.probe, &keys.window_ok],
                &args,
                BACKGROUND_WAIT,
            )
            .await;
    }
}

/// Runs one report's script; a success adds the successes the target counted since its last report.
async fn handle(s: &Shared, t: usize, report: Report) {
    {
        let Some(bound) = s.bound() else { return };
        let Some(keys) = bound.keys.get(t) else {
            return;
        };
        if !s.is_up() {
            keys.missed(&report);
            return;
        }
        let policy = bound.view.policy();
        let flag = |b: bool| if b { "1" } else { "0" }.to_owned();
        // The failure-ratio window in whole seconds (0: the fleet keeps no window).
        let (ratio, window_s) = if super::ratio_window(policy) {
            (policy.failure_ratio, policy.window.as_secs().max(1))
        } else {
            (0.0, 0)
        };
        match report {
            Report::Failure {
                counts,
                probe,
                retry_after,
            } => {
                let threshold = if policy.enabled {
                    policy.consecutive_failures
                } else {
                    0
                };
                let args = [
                    threshold.to_string(),
                    ms(policy.cooldown),
                    ms(policy.max_cooldown),
                    ms(retry_after.unwrap_or_default()),
                    flag(probe),
                    bound.channel.clone(),
                    keys.id.clone(),
                    flag(counts),
                    ratio.to_string(),
                    policy.min_requests.to_string(),
                    window_s.to_string(),
                    keys.pending_ok.swap(0, Ordering::Relaxed).to_string(),
                ];
                let answer: Option<(i64, i64)> = s
                    .ask(
                        &s.scripts.failure,
                        &[
                            &keys.breaker,
                            &keys.probe,
                            &keys.window_ok,
                            &keys.window_failed,
                        ],
                        &args,
                        BACKGROUND_WAIT,
                    )
                    .await;
                match answer {
                    Some((_, left)) if left >= 0 => {
                        bound.view.opened(t, clamped(left, policy.max_cooldown));
                    }
                    Some(_) => {}
                    // Redis did not hear it: the next sync offers this process's breaker instead.
                    None => keys.missed(&report),
                }
            }
            Report::Success { probe } => {
                let counted = keys.pending_ok.swap(0, Ordering::Relaxed);
                let dirty = keys.dirty.swap(false, Ordering::Relaxed);
                if !probe && !dirty && window_s == 0 {
                    return;
                }
                let args = [
                    bound.channel.clone(),
                    keys.id.clone(),
                    flag(probe),
                    (1 + counted).to_string(),
                    window_s.to_string(),
                    "0".to_owned(),
                ];
                let _: Option<i64> = s
                    .ask(
                        &s.scripts.success,
                        &[&keys.breaker, &keys.probe, &keys.window_ok],
                        &args,
                        BACKGROUND_WAIT,
                    )
                    .await;
            }
            Report::ProbeReleased => {
                let _: Option<i64> = s
                    .ask(
                        &s.scripts.release,
                        &[&keys.probe],
                        std::slice::from_ref(&s.token),
                        BACKGROUND_WAIT,
                    )
                    .await;
            }
            Report::Tokens(n) => {
                let _: Option<i64> = s
                    .ask(
                        &s.scripts.tokens,
                        &[&keys.tokens],
                        &[n.to_string()],
                        BACKGROUND_WAIT,
                    )
                    .await;
            }
            Report::Remaining { requests, tokens } => {
                let Some(target) = bound.view.targets().get(t) else {
                    return;
                };
                let said = |n: Option<u64>| n.map_or("-1".to_owned(), |n| n.to_string());
                let args = [
                    target.rpm().unwrap_or(0).to_string(),
                    target.tpm().unwrap_or(0).to_string(),
                    said(requests),
                    said(tokens),
                ];
                let _: Option<i64> = s
                    .ask(
                        &s.scripts.remaining,
                        &[&keys.requests, &keys.tokens],
                        &args,
                        BACKGROUND_WAIT,
                    )
                    .await;
            }
            Report::Spent { reserved, actual } => {
                let Some(target) = bound.view.targets().get(t) else {
                    return;
                };
                let correction = super::micros(actual) - super::micros(reserved);
                if correction == 0 {
                    return;
                }
                let mut args = vec!["settle".to_owned(), correction.to_string()];
                args.extend(super::spend_limits(target));
                let [m, h, d] = &keys.spend;
                let _: Option<(i64, i64)> = s
                    .ask(&s.scripts.spend, &[m, h, d], &args, BACKGROUND_WAIT)
                    .await;
            }
            Report::Exhausted(wait) => {
                // Redis takes no expiry under 1 ms.
                let hold = wait.max(Duration::from_millis(1));
                let _: Option<i64> = s
                    .ask(
                        &s.scripts.exhausted,
                        &[&keys.hold],
                        &[ms(hold)],
                        BACKGROUND_WAIT,
                    )
                    .await;
            }
        }
    }
}
