//! The OpenAPI document's frame: title, version, the bearer scheme and tags.
//! The paths and schemas come from the handlers' `#[utoipa::path]`
//! annotations and the types they use, so the document follows the code.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{OpenApi, SecurityRequirement};
use utoipa::{Modify, OpenApi as _};

#[derive(utoipa::OpenApi)]
#[openapi(
    info(
        title = "hookgate management API",
        description = "Endpoints, sources, routes and plugins at run time; messages, the delivery log, replay and the dead letter. Every operation needs `Authorization: Bearer <admin token>`."
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "endpoints", description = "Where events are delivered"),
        (name = "sources", description = "Where events come from"),
        (name = "routes", description = "Each source's plugin chain"),
        (name = "plugins", description = "WebAssembly components and their versions"),
        (name = "messages", description = "What was received and what the plugins decided"),
        (name = "deliveries", description = "The delivery log, replay and the dead letter"),
    )
)]
struct Document;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_token",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "admin_token",
            Vec::<String>::new(),
        )]);
    }
}

/// The frame the routers add their paths to.
pub(super) fn document() -> OpenApi {
    Document::openapi()
}
