//! Where the project builds the models the pipeline's own readers query (the report,
//! `status`'s reconciliation): taken from the project as parsed for the target, as
//! `ref()` would name them, so a dev target's readers read its dev schemas and never
//! production's (`generate_schema_name`).

use dbt_runner::{NodeName, Project, TransformError};

use crate::warehouse::Warehouse;

/// The relations of the models read from Rust, e.g. `main_marts.fact_stream_snapshots`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Marts {
    pub fact_stream_snapshots: String,
    pub dim_streamers: String,
    pub dim_games: String,
    pub rank_streamers: String,
    pub rank_games: String,
    /// Every model the project builds, by name: the report site reads the analytics.
    pub all: std::collections::BTreeMap<String, String>,
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
        let built = dbt_runner::relations(project, warehouse, target_name).await?;
        let relation = |name: &str| {
            built
                .get(&NodeName(name.to_string()))
                .map(ToString::to_string)
                .ok_or_else(|| TransformError::Project {
                    file: project.root.join("dbt_project.yml"),
                    message: format!(
                        "the project builds no model `{name}` (removed, renamed or enabled=false), \
                         which the report and `status` read"
                    ),
                })
        };
        Ok(Marts {
            fact_stream_snapshots: relation("fact_stream_snapshots")?,
            dim_streamers: relation("dim_streamers")?,
            dim_games: relation("dim_games")?,
            rank_streamers: relation("rank_streamers")?,
            rank_games: relation("rank_games")?,
            all: built
                .iter()
                .map(|(name, relation)| (name.0.clone(), relation.to_string()))
                .collect(),
        })
    }

    /// The relation of model `name`, or an error that names the model missing.
    pub fn relation(&self, name: &str) -> Result<&str, TransformError> {
        self.all
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| TransformError::Project {
                file: "dbt_project.yml".into(),
                message: format!("the project builds no model `{name}` (removed, renamed or enabled=false), which the report site reads"),
            })
    }
}
