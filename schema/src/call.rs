//! Calls of function and action imports: the request a call becomes in each dialect.
//!
//! v4 functions put their parameters into the URL (`Name(p=1,q='a')`, OData 4.01 URL
//! conventions section 11.5.4.1), v4 actions send them as a JSON body (section 11.5.4.2); v2
//! function imports take them as query options whatever their method (OData v2 URI conventions
//! section 3.1.2).

use serde::Serialize;
use serde_json::Value;

use crate::edm::{Dialect, EdmType};
use crate::literal::{encode_component, format_literal};
use crate::model::{FieldKind, Graph, OperationKind, ServiceId};
use crate::plan::{PlanError, Shape, entity_path};

/// How a call is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum CallMethod {
    /// `GET`: functions.
    Get,
    /// `POST`: actions and v2 function imports declared with `m:HttpMethod="POST"`.
    Post,
}

/// A planned call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    /// Index of the operation in the graph.
    pub operation: usize,
    /// The service called.
    pub service: ServiceId,
    /// GET or POST.
    pub method: CallMethod,
    /// Path and query below the service root.
    pub path: String,
    /// Parameters sent as a JSON body (v4 actions), by parameter index, canonical values.
    pub body: Option<Vec<(usize, Value)>>,
    /// How to read returned entities.
    pub shape: Option<Shape>,
}

/// Plans a call with the given arguments (parameter index, canonical JSON value). A bound
/// operation is called on `bound_to`: the key of the entity (empty for a singleton), or `None`
/// for an operation bound to the collection.
pub fn plan_call(
    graph: &Graph,
    operation_id: usize,
    arguments: &[(usize, Value)],
    bound_to: Option<&[(usize, Value)]>,
    shape: Option<Shape>,
) -> Result<Call, PlanError> {
    let operation = &graph.operations[operation_id];
    let service = &graph.services[operation.service];
    // Bound: `Set(key)/Qualified.Name` or `Set/Qualified.Name` (OData 4.01 URL conventions,
    // section 4.5.1); unbound: the import's name.
    let name = match &operation.binding {
        None => encode_component(&operation.name),
        Some(binding) => {
            let entity = &graph.entities[binding.entity];
            let base = match (binding.collection, bound_to) {
                (true, _) => encode_component(&entity.set_name),
                (false, Some(key)) => entity_path(graph, binding.entity, key)?,
                (false, None) => {
                    return Err(PlanError::Unsupported(format!(
                        "{} is bound to one {}: it needs that entity's key",
                        operation.name,
                        entity.shown_name()
                    )));
                }
            };
            format!("{base}/{}", encode_component(&binding.qualified))
        }
    };
    let literal = |index: usize, value: &Value| -> Result<String, PlanError> {
        let parameter = &operation.parameters[index];
        let ty = match parameter.kind {
            FieldKind::Scalar(ty) => ty,
            // Enum members travel as strings in both dialects' URLs here.
            FieldKind::Enum(_) => EdmType::String,
            FieldKind::Complex(_) => {
                return Err(PlanError::Unsupported(format!(
                    "{}: parameter {} is structured and cannot go into a URL",
                    operation.name, parameter.name
                )));
            }
        };
        format_literal(service.dialect, ty, value).map_err(|error| PlanError::Literal {
            entity: operation.name.clone(),
            field: parameter.name.clone(),
            error,
        })
    };
    let (method, path, body) = match (service.dialect, operation.kind) {
        (Dialect::V4, OperationKind::Function) => {
            let mut parts = Vec::new();
            for (index, value) in arguments {
                let parameter = &operation.parameters[*index];
                parts.push(format!(
                    "{}={}",
                    encode_component(&parameter.name),
                    encode_component(&literal(*index, value)?)
                ));
            }
            (
                CallMethod::Get,
                format!("{name}({})", parts.join(",")),
                None,
            )
        }
        (Dialect::V4, OperationKind::Action) => (CallMethod::Post, name, Some(arguments.to_vec())),
        (Dialect::V2, kind) => {
            let mut parts = Vec::new();
            for (index, value) in arguments {
                let parameter = &operation.parameters[*index];
                parts.push(format!(
                    "{}={}",
                    encode_component(&parameter.name),
                    encode_component(&literal(*index, value)?)
                ));
            }
            let method = match kind {
                OperationKind::Function => CallMethod::Get,
                OperationKind::Action => CallMethod::Post,
            };
            let path = if parts.is_empty() {
                name
            } else {
                format!("{name}?{}", parts.join("&"))
            };
            (method, path, None)
        }
    };
    Ok(Call {
        operation: operation_id,
        service: operation.service,
        method,
        path,
        body,
        shape,
    })
}
