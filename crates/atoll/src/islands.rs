//! Opening an island: where its metadata and blobs are, from its `store`
//! location in the directory. `atoll serve` opens the islands it serves
//! this way, and the admin commands the island of the account they look
//! into.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use atoll_directory::Directory;
use atoll_store::Island;

/// Where one island keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IslandLocation {
    /// The metadata database, as a sqlx URL.
    pub meta_url: String,
    /// The root of the content-addressed blob store.
    pub blob_dir: PathBuf,
}

/// The rule that turns an island's `store` location into its parts.
///
/// For now a location is a folder: the metadata is SQLite in
/// `<folder>/meta.db` (created on first use) and the blobs are under
/// `<folder>/blobs`. A relative folder is relative to the working
/// directory, like `--data-dir` (the embedded default stores
/// `<data_dir>/islands/<name>`). Island metadata on PostgreSQL or MySQL
/// will be written as a URL here; that is not supported yet, so a URL is
/// refused rather than mistaken for a folder.
pub fn island_location(store: &str) -> anyhow::Result<IslandLocation> {
    let store = store.trim();
    if store.is_empty() {
        bail!("no store location");
    }
    if store.contains("://") {
        bail!("store location {store:?} is a URL; island metadata on a database server is not supported yet");
    }
    let folder = Path::new(store);
    Ok(IslandLocation {
        meta_url: format!("sqlite://{}?mode=rwc", folder.join("meta.db").display()),
        blob_dir: folder.join("blobs"),
    })
}

/// Opens island `name` as the directory describes it, bringing its
/// metadata schema up to date.
pub async fn open_island(dir: &Directory, name: &str, max_connections: u32) -> anyhow::Result<Island> {
    let islands = dir.list_islands().await?;
    let island = islands.iter().find(|i| i.name == name).with_context(|| format!("unknown island {name}"))?;
    let loc = island_location(&island.store).with_context(|| format!("island {name}"))?;
    Island::open(name, &loc.meta_url, &loc.blob_dir, max_connections)
        .await
        .with_context(|| format!("cannot open island {name} at {}", island.store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_location_is_a_folder() {
        let loc = island_location("/srv/atoll/north").unwrap();
        assert_eq!(loc.meta_url, "sqlite:///srv/atoll/north/meta.db?mode=rwc");
        assert_eq!(loc.blob_dir, PathBuf::from("/srv/atoll/north/blobs"));
        let loc = island_location("atoll-data/islands/default").unwrap();
        assert_eq!(loc.meta_url, "sqlite://atoll-data/islands/default/meta.db?mode=rwc");
        assert_eq!(loc.blob_dir, PathBuf::from("atoll-data/islands/default/blobs"));
        assert!(island_location("").is_err());
        let err = island_location("postgres://db/north").unwrap_err().to_string();
        assert!(err.contains("not supported yet"), "{err}");
    }
}
