//! Where the project builds the models the pipeline's own readers query (the report,
//! `status`'s reconciliation): taken from the project as parsed for the target, as
//! `ref()` would name them, so a dev target's readers read its dev schemas and never
//! production's (`generate_schema_name`).

use super::render::Renderer;
use super::{NodeName, Project, TransformError, TransformOptions, parse, target_of};
use crate::warehouse::Warehouse;

/// The relations of the models read from Rust, e.g. `main_marts.fact_stream_snapshots`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marts {
    pub fact_stream_snapshots: String,
    pub dim_streamers: String,
    pub dim_games: String,
}

impl Marts {
    /// The relations as `project` builds them on `warehouse` for target `target_name`.
    /// A model the readers need that the project does not build (removed, renamed or
    /// disabled) is an error that names it.
    pub async fn resolve<W: Warehouse>(
        project: &Project,
        warehouse: &mut W,
        target_name: &str,
    ) -> Result<Marts, TransformError> {
        let target = target_of(warehouse, target_name).await?;
        let renderer = Renderer::new(project, target);
        let options = TransformOptions {
            target_name: Some(target_name.to_string()),
            ..Default::default()
        };
        let parsed = parse(project, &renderer, &options)?;
        let relation = |name: &str| {
            parsed
                .planned
                .get(&NodeName(name.to_string()))
                .map(|plan| plan.relation.to_string())
                .ok_or_else(|| {
                    TransformError::project(
                        &project.root.join("dbt_project.yml"),
                        format!(
                            "the project builds no model `{name}` (removed, renamed or enabled=false), \
                             which the report and `status` read"
                        ),
                    )
                })
        };
        Ok(Marts {
            fact_stream_snapshots: relation("fact_stream_snapshots")?,
            dim_streamers: relation("dim_streamers")?,
            dim_games: relation("dim_games")?,
        })
    }
}
