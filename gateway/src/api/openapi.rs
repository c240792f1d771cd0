//! The OpenAPI document's frame: title, version, the bearer scheme and tags.
//! The paths and schemas come from the handlers' `#[utoipa::path]`
//! annotations and the types they use, so the document follows the code.

use serde_json::{Map, Value, json};
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

/// The finished document: what the routers declared, plus what holds for
/// every operation, so that each response the server gives is described.
///
/// - Every operation can answer 401 (the token middleware), and one that
///   takes parameters or a body can answer 400; both carry [`ErrorBody`].
/// - A view that embeds a settings type (`#[serde(flatten)]`) is generated
///   as `allOf` of the settings (closed, as the server refuses unknown
///   fields in them) and the view's own fields; a closed part would refuse
///   the other's fields, so the parts are merged into one closed object.
///
/// [`ErrorBody`]: super::ErrorBody
pub(super) fn finish(api: &OpenApi) -> Value {
    let mut doc = serde_json::to_value(api).unwrap_or_else(|error| {
        tracing::error!(%error, "cannot serialise the OpenAPI document");
        Value::Null
    });
    let schemas = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) {
        for item in paths.values_mut().filter_map(Value::as_object_mut) {
            if let Some(patch) = item.get_mut("patch") {
                describe_merge_patch(patch, &schemas);
            }
            for operation in item.values_mut().filter_map(Value::as_object_mut) {
                add_error_responses(operation);
            }
        }
    }
    merge_all_of_within(&mut doc, &schemas);
    doc
}

/// [`merge_all_of`] on every schema in `value`, named or inline (a generic
/// page inlines its items' schema).
fn merge_all_of_within(value: &mut Value, schemas: &Map<String, Value>) {
    merge_all_of(value, schemas);
    match value {
        Value::Object(fields) => fields
            .values_mut()
            .for_each(|v| merge_all_of_within(v, schemas)),
        Value::Array(items) => items
            .iter_mut()
            .for_each(|v| merge_all_of_within(v, schemas)),
        _ => {}
    }
}

fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    })
}

fn add_error_responses(operation: &mut Map<String, Value>) {
    let takes_input = operation.contains_key("requestBody")
        || operation
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|p| !p.is_empty());
    let Some(responses) = operation
        .get_mut("responses")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    responses
        .entry("401")
        .or_insert_with(|| error_response("`unauthorized`: the admin token is missing or wrong"));
    if takes_input {
        responses.entry("400").or_insert_with(|| {
            error_response("`invalid_json` or `invalid_field`: the request is malformed")
        });
    }
}

/// A `PATCH` takes a JSON merge patch of the settings its answer shows
/// (`XView` shows `XConfig`): any of their fields, none required, no other.
fn describe_merge_patch(operation: &mut Value, schemas: &Map<String, Value>) {
    let Some(view) = operation
        .pointer("/responses/200/content/application~1json/schema/$ref")
        .and_then(Value::as_str)
        .and_then(|r| r.strip_prefix("#/components/schemas/"))
        .and_then(|name| name.strip_suffix("View"))
    else {
        return;
    };
    let Some(settings) = schemas.get(&format!("{view}Config")).cloned() else {
        return;
    };
    let mut patch = settings;
    if let Some(fields) = patch.as_object_mut() {
        fields.remove("required");
    }
    if let Some(body) = operation.pointer_mut("/requestBody/content/application~1json/schema") {
        *body = patch;
    }
}

/// Replaces `allOf: [$ref, {object}]` by one closed object holding the
/// properties and required fields of every part.
fn merge_all_of(schema: &mut Value, schemas: &Map<String, Value>) {
    let Some(parts) = schema.get("allOf").and_then(Value::as_array) else {
        return;
    };
    let mut properties = Map::new();
    let mut required: Vec<Value> = Vec::new();
    for part in parts {
        let part = match part.get("$ref").and_then(Value::as_str) {
            Some(reference) => match reference
                .strip_prefix("#/components/schemas/")
                .and_then(|name| schemas.get(name))
            {
                Some(found) => found,
                None => return,
            },
            None => part,
        };
        // Only plain objects merge; a tagged union (`oneOf`) stays as it is.
        let Some(own) = part.get("properties").and_then(Value::as_object) else {
            return;
        };
        properties.extend(own.clone());
        if let Some(names) = part.get("required").and_then(Value::as_array) {
            required.extend(names.iter().cloned());
        }
    }
    let mut merged = Map::new();
    if let Some(description) = schema.get("description") {
        merged.insert("description".into(), description.clone());
    }
    merged.insert("type".into(), "object".into());
    merged.insert("properties".into(), Value::Object(properties));
    merged.insert("required".into(), Value::Array(required));
    merged.insert("additionalProperties".into(), false.into());
    *schema = Value::Object(merged);
}
