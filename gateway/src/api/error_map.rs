//! How the layers' errors are answered by the management API: the
//! registry's and delivery's map to 400/404/409 with their own codes, a
//! store failure is a logged 500.

use super::{ApiError, Code};

impl From<crate::registry::RegistryError> for ApiError {
    fn from(error: crate::registry::RegistryError) -> Self {
        use crate::registry::RegistryError as E;
        let message = error.to_string();
        match error {
            E::Invalid(invalid) if !invalid.field.is_empty() => {
                Self::invalid_field(&invalid.field, invalid.message)
            }
            E::Invalid(_) => Self::new(Code::InvalidField, message),
            E::Plugin(_) => Self::new(Code::InvalidPlugin, message),
            E::NotFound { .. } => Self::new(Code::NotFound, message),
            E::Exists { .. } => Self::new(Code::AlreadyExists, message),
            E::ManagedByConfig { .. } => Self::new(Code::ManagedByConfig, message),
            E::InUse { .. } => Self::new(Code::InUse, message),
            E::Conflict(_) => Self::new(Code::Conflict, message),
            E::Store(e) => Self::internal(&e),
        }
    }
}

impl From<crate::store::Error> for ApiError {
    fn from(error: crate::store::Error) -> Self {
        Self::internal(&error)
    }
}

impl From<crate::delivery::Error> for ApiError {
    fn from(error: crate::delivery::Error) -> Self {
        use crate::delivery::{Error as E, Unavailable};
        let message = error.to_string();
        match error {
            E::NoEndpoint(_) | E::NoDelivery(_) | E::NoMessage(_) => {
                Self::new(Code::NotFound, message)
            }
            E::NotFailed(_) | E::Skipped { .. } => Self::new(Code::Conflict, message),
            E::Unavailable {
                why: Unavailable::Disabled(_),
                ..
            } => Self::new(Code::EndpointDisabled, message),
            E::Unavailable {
                why: Unavailable::Inactive,
                ..
            } => Self::new(Code::EndpointInactive, message),
            E::TargetRefused(_) => Self::new(Code::TargetNotAllowed, message),
            E::Store(e) => Self::internal(&e),
            E::Tls(_) | E::Secret { .. } => Self::internal(&message),
        }
    }
}
