//! A chain run as the store records it: each plugin's version, time,
//! decision and logs ([`crate::store::PluginStep`]), with logs capped so
//! a chatty plugin cannot grow every message's record without bound.

use crate::plugin::{ChainRun, Did, LogLine};
use crate::store::{MAX_LOG_LINE, MAX_LOG_LINES, PluginStep, StepAction, StepLog};

/// The steps of `run`, in order.
pub(super) fn steps(run: &ChainRun) -> Vec<PluginStep> {
    run.steps
        .iter()
        .map(|step| {
            let action = match &step.did {
                Did::Continued {
                    event_type,
                    headers,
                    body_bytes,
                } => StepAction::Continued {
                    event_type: event_type.clone(),
                    headers: *headers,
                    body_bytes: body_bytes.map(|n| n as u64),
                },
                Did::Dropped { reason } => StepAction::Dropped {
                    reason: reason.clone(),
                },
                Did::Delivered(endpoints) => StepAction::Delivered {
                    endpoints: endpoints.clone(),
                },
                Did::Responded(status) => StepAction::Responded { status: *status },
                Did::Failed => match &run.result {
                    Err(failure) => StepAction::Failed {
                        kind: failure.error.kind().to_owned(),
                        error: failure.error.to_string(),
                    },
                    Ok(_) => StepAction::Failed {
                        kind: String::new(),
                        error: String::new(),
                    },
                },
            };
            let lines = &step.logs.lines;
            PluginStep {
                plugin: step.plugin.clone(),
                hash: step.hash.clone(),
                elapsed_us: u64::try_from(step.elapsed.as_micros()).unwrap_or(u64::MAX),
                action,
                logs: lines.iter().take(MAX_LOG_LINES).map(log).collect(),
                logs_truncated: step.logs.truncated || lines.len() > MAX_LOG_LINES,
            }
        })
        .collect()
}

fn log(line: &LogLine) -> StepLog {
    let mut message = line.message.clone();
    if message.len() > MAX_LOG_LINE {
        let mut end = MAX_LOG_LINE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
    }
    StepLog {
        level: name(&line.level),
        stream: name(&line.stream),
        message,
    }
}

/// A log field's name as it serializes (`info`, `stderr`).
fn name(value: &impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}
