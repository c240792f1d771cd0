//! Every error code the HTTP side answers with, one enum: each code has one
//! status and one stable machine name (`{"code": ..., "message": ...}`),
//! which clients and the metrics' `reason` label rely on.
//!
//! A leaf: it knows nothing but HTTP status codes.

use axum::http::StatusCode;

/// An error code and, through it, its status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// No admin token is configured: the management API is off.
    AdminApiDisabled,
    /// An object with that name exists.
    AlreadyExists,
    /// The request body did not arrive within `body_read_timeout`.
    BodyTimeout,
    /// A concurrent change got there first.
    Conflict,
    /// A change made with the console's session cookie lacks the
    /// console's header (`x-hookgate-console`).
    CsrfRequired,
    /// The endpoint is disabled; enable it first.
    EndpointDisabled,
    /// The endpoint is inactive; activate it first.
    EndpointInactive,
    /// A sync source's plugin failed, or its endpoint gave no answer that
    /// can be relayed (refused, unreachable, too large).
    HookFailed,
    /// A sync source's endpoint is disabled or paused by its breaker.
    HookUnavailable,
    /// A sync source's request was routed to no endpoint, or to several.
    HookUnrouted,
    /// A sync source's answer did not come within its `response_timeout`.
    HookTimeout,
    /// The object is referenced by another.
    InUse,
    /// The gateway failed; the detail is in its log.
    Internal,
    /// A field or parameter has a value the gateway refuses.
    InvalidField,
    /// The body is not the JSON the operation takes.
    InvalidJson,
    /// The component is not a plugin this host runs.
    InvalidPlugin,
    /// No signature matches the body.
    InvalidSignature,
    /// The client address is outside the source's `allow_ips`.
    IpNotAllowed,
    /// The body's framing (chunked encoding) is broken.
    MalformedBody,
    /// The object comes from the config file; change it there.
    ManagedByConfig,
    /// The path exists, but not with this method.
    MethodNotAllowed,
    /// The source signs requests and this one carries no signature.
    MissingSignature,
    /// No operation has this path.
    NoRoute,
    /// No such object.
    NotFound,
    /// Too many connections are open; retry in a moment.
    Overloaded,
    /// The body is larger than the source allows.
    PayloadTooLarge,
    /// The source's rate limit is reached; retry after `Retry-After`.
    RateLimited,
    /// The signed timestamp is too far from now.
    StaleTimestamp,
    /// The store does not take writes now; retry after `Retry-After`.
    StorageUnavailable,
    /// A target URL is refused by the target policy.
    TargetNotAllowed,
    /// The credentials are missing or wrong.
    Unauthorized,
    /// No source has that name.
    UnknownSource,
}

impl Code {
    /// Every code.
    pub const ALL: [Self; 32] = [
        Self::AdminApiDisabled,
        Self::AlreadyExists,
        Self::BodyTimeout,
        Self::Conflict,
        Self::CsrfRequired,
        Self::EndpointDisabled,
        Self::EndpointInactive,
        Self::HookFailed,
        Self::HookUnavailable,
        Self::HookUnrouted,
        Self::HookTimeout,
        Self::InUse,
        Self::Internal,
        Self::InvalidField,
        Self::InvalidJson,
        Self::InvalidPlugin,
        Self::InvalidSignature,
        Self::IpNotAllowed,
        Self::MalformedBody,
        Self::ManagedByConfig,
        Self::MethodNotAllowed,
        Self::MissingSignature,
        Self::NoRoute,
        Self::NotFound,
        Self::Overloaded,
        Self::PayloadTooLarge,
        Self::RateLimited,
        Self::StaleTimestamp,
        Self::StorageUnavailable,
        Self::TargetNotAllowed,
        Self::Unauthorized,
        Self::UnknownSource,
    ];

    /// The stable machine name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::AdminApiDisabled => "admin_api_disabled",
            Self::AlreadyExists => "already_exists",
            Self::BodyTimeout => "body_timeout",
            Self::Conflict => "conflict",
            Self::CsrfRequired => "csrf_required",
            Self::EndpointDisabled => "endpoint_disabled",
            Self::EndpointInactive => "endpoint_inactive",
            Self::HookFailed => "hook_failed",
            Self::HookUnavailable => "hook_unavailable",
            Self::HookUnrouted => "hook_unrouted",
            Self::HookTimeout => "hook_timeout",
            Self::InUse => "in_use",
            Self::Internal => "internal",
            Self::InvalidField => "invalid_field",
            Self::InvalidJson => "invalid_json",
            Self::InvalidPlugin => "invalid_plugin",
            Self::InvalidSignature => "invalid_signature",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::MalformedBody => "malformed_body",
            Self::ManagedByConfig => "managed_by_config",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::MissingSignature => "missing_signature",
            Self::NoRoute => "no_route",
            Self::NotFound => "not_found",
            Self::Overloaded => "overloaded",
            Self::PayloadTooLarge => "payload_too_large",
            Self::RateLimited => "rate_limited",
            Self::StaleTimestamp => "stale_timestamp",
            Self::StorageUnavailable => "storage_unavailable",
            Self::TargetNotAllowed => "target_not_allowed",
            Self::Unauthorized => "unauthorized",
            Self::UnknownSource => "unknown_source",
        }
    }

    /// The HTTP status it is answered with.
    pub const fn status(self) -> StatusCode {
        match self {
            Self::AdminApiDisabled => StatusCode::UNAUTHORIZED,
            Self::AlreadyExists => StatusCode::CONFLICT,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::Conflict => StatusCode::CONFLICT,
            Self::CsrfRequired => StatusCode::FORBIDDEN,
            Self::EndpointDisabled => StatusCode::CONFLICT,
            Self::EndpointInactive => StatusCode::CONFLICT,
            Self::HookFailed => StatusCode::BAD_GATEWAY,
            Self::HookUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::HookUnrouted => StatusCode::BAD_GATEWAY,
            Self::HookTimeout => StatusCode::GATEWAY_TIMEOUT,
            Self::InUse => StatusCode::CONFLICT,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
            Self::InvalidField => StatusCode::BAD_REQUEST,
            Self::InvalidJson => StatusCode::BAD_REQUEST,
            Self::InvalidPlugin => StatusCode::BAD_REQUEST,
            Self::InvalidSignature => StatusCode::UNAUTHORIZED,
            Self::IpNotAllowed => StatusCode::FORBIDDEN,
            Self::MalformedBody => StatusCode::BAD_REQUEST,
            Self::ManagedByConfig => StatusCode::CONFLICT,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::MissingSignature => StatusCode::UNAUTHORIZED,
            Self::NoRoute => StatusCode::NOT_FOUND,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::StaleTimestamp => StatusCode::UNAUTHORIZED,
            Self::StorageUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::TargetNotAllowed => StatusCode::UNPROCESSABLE_ENTITY,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::UnknownSource => StatusCode::NOT_FOUND,
        }
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_snake_case_and_statuses_are_errors() {
        let mut seen = std::collections::HashSet::new();
        for code in Code::ALL {
            let name = code.as_str();
            assert!(seen.insert(name), "{name} twice");
            assert!(
                name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{name}"
            );
            assert!(
                code.status().is_client_error() || code.status().is_server_error(),
                "{name}"
            );
        }
    }
}
