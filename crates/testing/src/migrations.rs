//! Checking that a crate embeds every migration it ships.
//!
//! `embed_migrations!` lists migrations by hand, so a new `.sql` file that is not added to the list
//! would silently never run. This compares the list with the files.

use std::path::Path;

use familybridge_storage::MigrationSet;

/// Panics unless `set` embeds exactly the `VERSION_NAME.sql` files under
/// `crate_dir/migrations/sqlite` and `crate_dir/migrations/postgres`.
pub fn assert_embeds_every_migration(set: &MigrationSet, crate_dir: &str) {
    for (backend, embedded) in [("sqlite", set.sqlite), ("postgres", set.postgres)] {
        let folder = Path::new(crate_dir).join("migrations").join(backend);
        let mut files: Vec<String> = std::fs::read_dir(&folder)
            .unwrap_or_else(|error| panic!("cannot list {}: {error}", folder.display()))
            .map(|entry| {
                entry
                    .expect("a readable folder entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let mut listed: Vec<String> = embedded
            .iter()
            .map(|migration| format!("{}_{}.sql", migration.version, migration.description))
            .collect();
        listed.sort();
        assert_eq!(
            listed,
            files,
            "the {backend} migrations embedded differ from the files in {}",
            folder.display()
        );
    }
}
