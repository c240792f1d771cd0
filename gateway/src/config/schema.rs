//! OpenAPI schemas written by hand, for settings whose rules a derived
//! schema cannot say: `retry` is either a schedule or exponential backoff,
//! never both (`validate.rs` refuses the mix); a Standard Webhooks secret
//! is `whsec_` and base64.

use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder, OneOfBuilder, Schema, Type};
use utoipa::openapi::{RefOr, schema::AdditionalProperties};
use utoipa::{PartialSchema, ToSchema};

use super::RetryConfig;

/// A duration written like `10s`, `5m`, `1h`.
fn duration(description: &str) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .pattern(Some(
            r"^([1-9][0-9]{0,5}(ms|s|m|h|d|min|sec|hour|hours|day|days))+$",
        ))
        .description(Some(description))
}

/// `retry.jitter`, in either form.
fn jitter() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::Boolean)
        .description(Some(
            "Whether each delay varies by up to 20% either way (default true); false keeps them exact.",
        ))
}

fn closed(object: ObjectBuilder) -> ObjectBuilder {
    object.additional_properties(Some(AdditionalProperties::FreeForm(false)))
}

impl PartialSchema for RetryConfig {
    fn schema() -> RefOr<Schema> {
        let schedule = closed(
            ObjectBuilder::new()
                .title(Some("schedule"))
                .property(
                    "schedule",
                    ArrayBuilder::new()
                        .items(duration("A delay before a retry."))
                        .min_items(Some(1))
                        .description(Some("Delays before each retry.")),
                )
                .property("jitter", jitter())
                .required("schedule"),
        );
        let exponential = closed(
            ObjectBuilder::new()
                .title(Some("exponential"))
                .property("initial_delay", duration("The first retry's delay."))
                .property(
                    "multiplier",
                    ObjectBuilder::new()
                        .schema_type(Type::Number)
                        .minimum(Some(1))
                        .description(Some("The factor between delays.")),
                )
                .property("max_delay", duration("The longest delay."))
                .property(
                    "max_attempts",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .minimum(Some(1))
                        .maximum(Some(u32::MAX))
                        .description(Some("Attempts in all, the first included.")),
                )
                .property("jitter", jitter()),
        );
        OneOfBuilder::new()
            .item(schedule)
            .item(exponential)
            .description(Some(
                "An explicit schedule or exponential backoff (any of its keys; none gives the defaults).",
            ))
            .examples([serde_json::json!({"schedule": ["1m", "10m", "1h"]})])
            .into()
    }
}

impl ToSchema for RetryConfig {}

/// A Standard Webhooks secret, for the document only: the settings hold a
/// [`super::Secret`], which this describes when it must be `whsec_`.
pub(crate) struct WebhookSecret;

impl PartialSchema for WebhookSecret {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            // `***` is how an answer shows it.
            .pattern(Some(r"^(whsec_[A-Za-z0-9+/]{32,}={0,2}|\*\*\*)$"))
            .description(Some(
                "A Standard Webhooks secret: `whsec_` and base64. Always answered as `***`.",
            ))
            .examples([serde_json::json!("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")])
            .into()
    }
}

impl ToSchema for WebhookSecret {}
