//! `bizgraph metadata inspect`: a readable summary of one `$metadata` document.

use std::fmt::Write;

use bizgraph_metadata::{Parsed, Severity, StructuredType};

/// Renders version, namespaces, counts, entity types with keys, and diagnostics as text.
pub fn report(source_name: &str, parsed: &Parsed) -> String {
    let metadata = &parsed.metadata;
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, source_name, parsed, metadata);
    out
}

fn write_report(
    out: &mut String,
    source_name: &str,
    parsed: &Parsed,
    metadata: &bizgraph_metadata::Metadata,
) -> std::fmt::Result {
    writeln!(out, "{source_name}")?;
    write!(out, "OData version {}", metadata.version)?;
    if let Some(dsv) = &metadata.data_service_version {
        write!(out, " (DataServiceVersion {dsv})")?;
    }
    writeln!(out)?;
    for schema in &metadata.schemas {
        match &schema.alias {
            Some(alias) => writeln!(out, "namespace {} (alias {alias})", schema.namespace)?,
            None => writeln!(out, "namespace {}", schema.namespace)?,
        }
    }
    let included: Vec<&str> = metadata
        .references
        .iter()
        .flat_map(|r| &r.includes)
        .map(|i| &*i.namespace)
        .collect();
    if !included.is_empty() {
        writeln!(out, "references {}", included.join(", "))?;
    }
    let c = metadata.counts();
    writeln!(
        out,
        "counts: {} schemas, {} entity types ({} with composite keys), {} complex types, {} enum \
         types, {} properties, {} navigation properties, {} entity sets, {} singletons, {} \
         associations, {} operations, {} operation imports",
        c.schemas,
        c.entity_types,
        c.keys_composite,
        c.complex_types,
        c.enum_types,
        c.properties,
        c.navigation_properties,
        c.entity_sets,
        c.singletons,
        c.associations,
        c.operations,
        c.operation_imports
    )?;
    writeln!(out, "entity types:")?;
    for schema in &metadata.schemas {
        for entity_type in &schema.entity_types {
            let key: Vec<&str> = metadata
                .key_of(entity_type)
                .iter()
                .map(|k| &*k.name)
                .collect();
            let ty = StructuredType::Entity(entity_type);
            write!(
                out,
                "  {}.{} key ({}) {} properties, {} navigation properties",
                schema.namespace,
                entity_type.name,
                key.join(", "),
                metadata.all_properties(ty).len(),
                metadata.all_navigation_properties(ty).len()
            )?;
            if let Some(base) = &entity_type.base_type {
                write!(out, ", base {base}")?;
            }
            writeln!(out)?;
        }
    }
    let errors = parsed
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .count();
    writeln!(
        out,
        "diagnostics: {errors} errors, {} warnings",
        parsed.diagnostics.len() - errors
    )?;
    for diagnostic in &parsed.diagnostics {
        writeln!(out, "  {diagnostic}")?;
    }
    Ok(())
}
